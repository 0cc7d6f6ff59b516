# R's results for the R-agreement fixtures (tests/fixtures/r/). First
# `python scripts/r_fixtures.py` (the datasets), then, from the repository root,
# `Rscript scripts/r_fixtures.R`. Needs lme4, lmerTest, pbkrtest, nlme, numDeriv, mice
# (Debian: r-cran-*). Every optimiser is run to tight tolerances so that R's estimates
# are accurate well beyond the 1e-5 the tests ask.
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(pbkrtest); library(nlme); library(numDeriv)
  library(mice)
})
dir <- "tests/fixtures/r"
wr <- function(x, f) write.csv(x, file.path(dir, f), row.names = FALSE, quote = FALSE)
fmt <- function(x) { x[] <- lapply(x, function(v) if (is.numeric(v)) sprintf("%.17g", v) else v); x }

# pbkrtest's Kenward-Roger (vcovAdj_internal, .KR_adjust) for any V linear in its
# parameters: Sigma the estimated V, G its derivatives, L one contrast
kr_by_pbkrtest <- function(X, Sigma, G, L, y) {
  Si <- solve(Sigma)
  Phi <- solve(t(X) %*% Si %*% X)
  beta <- Phi %*% t(X) %*% Si %*% y
  PhiA <- pbkrtest:::vcovAdj_internal(Phi, list(Sigma = Sigma, G = G, n.ggamma = length(G)), X)
  s <- pbkrtest:::.KR_adjust(PhiA, Phi, matrix(L, 1), beta, 0)
  est <- sum(L * beta)
  list(estimate = est, se = sqrt(sum(L * (Phi %*% L))), se_kr = sqrt(as.numeric(t(L) %*% PhiA %*% L)),
       df_kr = s$ddf, p_kr = s$p.value, F_scaling = s$F.scaling)
}

# lmerTest's Satterthwaite recipe (as_lmerModLT, contest1D) for a REML deviance in any
# parametrisation: numDeriv's Hessian, eigenvalues above 1e-8 inverted, numDeriv's
# Jacobian of var(L'beta)
satterthwaite_by_lmertest <- function(dev, covbeta, varpar, L) {
  h <- numDeriv::hessian(dev, varpar)
  e <- eigen(h, symmetric = TRUE)
  pos <- e$values > 1e-8
  hinv <- e$vectors[, pos, drop = FALSE] %*% diag(1 / e$values[pos], sum(pos)) %*%
    t(e$vectors[, pos, drop = FALSE])
  g <- numDeriv::jacobian(function(v) sum(L * (covbeta(v) %*% L)), varpar)
  v <- sum(L * (covbeta(varpar) %*% L))
  2 * v^2 / as.numeric(g %*% (2 * hinv) %*% t(g))
}

parts <- commandArgs(trailingOnly = TRUE)
if (!length(parts)) parts <- c("pn", "mmrm", "mi")

# --- the partially nested model ------------------------------------------------------
if ("pn" %in% parts) {
pn <- read.csv(file.path(dir, "partially_nested_data.csv"))
ctl <- lmerControl(optimizer = "nloptwrap", calc.derivs = FALSE,
                   optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 1e-14,
                                  ftol_rel = 1e-15, maxeval = 100000))
lme4_rows <- list(); nlme_rows <- list()
for (k in sort(unique(pn$dataset))) {
  d <- pn[pn$dataset == k, ]
  n <- nrow(d)
  d$cl <- factor(ifelse(d$ips == 0, "tau", ifelse(d$esw >= 0, paste0("e", d$esw), paste0("u", seq_len(n)))))
  L <- c(0, 1, 0)
  # (1) one residual variance: lme4 + pbkrtest (KR) and lmerTest (Satterthwaite)
  fit <- lmerTest::lmer(y ~ ips + baseline + (0 + ips | cl), data = d, REML = TRUE, control = ctl)
  kr <- KRmodcomp(fit, matrix(L, 1))$test
  ct <- lmerTest::contest1D(fit, L, ddf = "Satterthwaite")
  vc <- as.data.frame(VarCorr(fit))
  lme4_rows[[length(lme4_rows) + 1]] <- data.frame(
    dataset = k, estimate = fixef(fit)[2], se = sqrt(vcov(fit)[2, 2]),
    se_kr = sqrt(vcovAdj(fit)[2, 2]), df_kr = kr["Ftest", "ddf"], p_kr = kr["Ftest", "p.value"],
    F_scaling = kr["Ftest", "F.scaling"], df_satt = ct$df, p_satt = ct[["Pr(>|t|)"]],
    s2 = sigma(fit)^2, tau2 = vc$vcov[1], theta = getME(fit, "theta"))
  # (2) a residual variance per arm: nlme::lme with varIdent, the IPS-only random
  # intercept as pdDiag(~ 0 + ips); KR by pbkrtest's functions on V(phi), Satterthwaite
  # by lmerTest's recipe on the REML deviance in (theta, sigma_ips, sigma_tau)
  d$armf <- factor(ifelse(d$ips == 1, "ips", "tau"), levels = c("ips", "tau"))
  f2 <- nlme::lme(y ~ ips + baseline, random = list(cl = pdDiag(~ 0 + ips)),
                  weights = varIdent(form = ~ 1 | armf), data = d, method = "REML",
                  control = lmeControl(maxIter = 1000, msMaxIter = 1000, niterEM = 100,
                                       tolerance = 1e-12, msTol = 1e-14, returnObject = TRUE))
  s2i <- f2$sigma^2
  ratio <- coef(f2$modelStruct$varStruct, unconstrained = FALSE)[["tau"]]
  s2t <- s2i * ratio^2
  tau2 <- as.numeric(pdMatrix(f2$modelStruct$reStruct[[1]])) * s2i
  boundary <- tau2 < 1e-6 * s2i
  if (boundary) {
    # lme's log-scale ESW SD cannot reach 0: at the boundary, REML with tau2 = 0 is
    # nlme::gls with the same varIdent
    f2 <- nlme::gls(y ~ ips + baseline, weights = varIdent(form = ~ 1 | armf), data = d,
                    method = "REML", control = glsControl(tolerance = 1e-12, msTol = 1e-14,
                                                          maxIter = 1000, msMaxIter = 1000))
    s2i <- f2$sigma^2
    s2t <- s2i * coef(f2$modelStruct$varStruct, unconstrained = FALSE)[["tau"]]^2
    tau2 <- 0
  }
  X <- cbind(1, d$ips, d$baseline)
  same <- outer(as.character(d$cl), as.character(d$cl), "==") * outer(d$ips, d$ips)
  G <- list(diag(d$ips), diag(1 - d$ips), same)
  Vof <- function(phi) phi[1] * G[[1]] + phi[2] * G[[2]] + phi[3] * G[[3]]
  r <- kr_by_pbkrtest(X, Vof(c(s2i, s2t, tau2)), G, L, d$y)
  phi_of <- function(v) c(v[2]^2, v[3]^2, v[1]^2 * v[2]^2)
  dev <- function(v) {
    V <- Vof(phi_of(v)); Vi <- solve(V); A <- t(X) %*% Vi %*% X
    b <- solve(A, t(X) %*% Vi %*% d$y); e <- d$y - X %*% b
    as.numeric(determinant(V)$modulus + determinant(A)$modulus + t(e) %*% Vi %*% e)
  }
  covbeta <- function(v) solve(t(X) %*% solve(Vof(phi_of(v))) %*% X)
  vp <- c(sqrt(tau2 / s2i), sqrt(s2i), sqrt(s2t))
  nlme_rows[[length(nlme_rows) + 1]] <- data.frame(
    dataset = k, estimate = r$estimate, se = r$se, se_kr = r$se_kr,
    df_kr = r$df_kr, p_kr = r$p_kr, df_satt = satterthwaite_by_lmertest(dev, covbeta, vp, L),
    s2_ips = s2i, s2_tau = s2t, tau2 = tau2, boundary = as.integer(boundary),
    estimate_nlme = if (boundary) coef(f2)[[2]] else fixef(f2)[[2]], se_nlme = sqrt(vcov(f2)[2, 2]))
}
wr(fmt(do.call(rbind, lme4_rows)), "partially_nested_lme4.csv")
wr(fmt(do.call(rbind, nlme_rows)), "partially_nested_nlme.csv")
}

# --- the repeated-measures model (MMRM) ------------------------------------------------
# Columns as trialsim.analysis.repeated_measures: wave means m1-m3, IPS-by-wave d1-d3,
# baseline-by-wave g1-g3, a common covariate slope; effect d3. Sigma unstructured:
# corSymm + varIdent by wave. KR by pbkrtest's functions on V(phi), phi = Sigma's
# elements (and tau2), V linear in phi.
if ("mmrm" %in% parts) {
rm_data <- read.csv(file.path(dir, "repeated_measures_data.csv"))
rows <- list()
for (k in sort(unique(rm_data$dataset))) {
  w <- rm_data[rm_data$dataset == k, ]
  long <- do.call(rbind, lapply(1:3, function(t) data.frame(
    id = w$id, ips = w$ips, baseline = w$baseline, cov = w$cov, esw = w$esw, wave = t,
    y = w[[paste0("y", t)]])))
  long <- long[!is.na(long$y), ]
  long <- long[order(long$id, long$wave), ]
  for (t in 1:3) {
    long[[paste0("m", t)]] <- as.numeric(long$wave == t)
    long[[paste0("d", t)]] <- long$ips * (long$wave == t)
    long[[paste0("g", t)]] <- long$baseline * (long$wave == t)
  }
  long$cl <- factor(ifelse(long$ips == 1 & long$esw >= 0, paste0("e", long$esw),
                           ifelse(long$ips == 1, paste0("u", long$id), "tau")))
  long$idf <- factor(long$id)
  form <- y ~ 0 + m1 + m2 + m3 + d1 + d2 + d3 + g1 + g2 + g3 + cov
  X <- model.matrix(form, long)
  L <- as.numeric(colnames(X) == "d3")
  n <- nrow(long)
  same_id <- outer(long$id, long$id, "==")
  pairs <- list(c(1, 1), c(1, 2), c(1, 3), c(2, 2), c(2, 3), c(3, 3))
  G <- lapply(pairs, function(jk) {
    a <- outer(long$wave, long$wave, function(x, y) (x == jk[1] & y == jk[2]) | (x == jk[2] & y == jk[1]))
    a * same_id * 1
  })
  Sig_of <- function(S) Reduce(`+`, Map(function(g, jk) S[jk[1], jk[2]] * g, G, pairs))
  # (1) no ESW term: nlme::gls
  f1 <- nlme::gls(form, data = long, correlation = corSymm(form = ~ wave | idf),
                  weights = varIdent(form = ~ 1 | wave), method = "REML",
                  control = glsControl(tolerance = 1e-12, msTol = 1e-14, maxIter = 1000,
                                       msMaxIter = 1000))
  unstructured <- function(f) {  # Sigma from corSymm and varIdent by wave
    R <- diag(3); R[lower.tri(R)] <- coef(f$modelStruct$corStruct, unconstrained = FALSE)
    R <- R + t(R) - diag(3)
    ratio <- coef(f$modelStruct$varStruct, unconstrained = FALSE, allCoef = TRUE)
    sds <- f$sigma * ratio[c("1", "2", "3")]
    R * outer(sds, sds)
  }
  S1 <- unstructured(f1)
  r1 <- kr_by_pbkrtest(X, Sig_of(S1), G, L, long$y)
  # (2) an ESW random intercept for IPS: nlme::lme, the same residual structure
  f2 <- nlme::lme(form, data = long, random = list(cl = pdDiag(~ 0 + ips)),
                  correlation = corSymm(form = ~ wave | cl/idf),
                  weights = varIdent(form = ~ 1 | wave), method = "REML",
                  control = lmeControl(maxIter = 1000, msMaxIter = 1000, niterEM = 100,
                                       tolerance = 1e-12, msTol = 1e-14))
  S2 <- unstructured(f2)
  tau2 <- as.numeric(pdMatrix(f2$modelStruct$reStruct[["cl"]])) * f2$sigma^2
  a <- outer(as.character(long$cl), as.character(long$cl), "==") * outer(long$ips, long$ips)
  r2 <- kr_by_pbkrtest(X, Sig_of(S2) + tau2 * a, c(G, list(a)), L, long$y)
  rows[[length(rows) + 1]] <- data.frame(
    dataset = k, gls_estimate = coef(f1)[["d3"]], gls_se = sqrt(vcov(f1)["d3", "d3"]),
    kr_estimate = r1$estimate, kr_se = r1$se, kr_se_kr = r1$se_kr, kr_df = r1$df_kr,
    kr_p = r1$p_kr, s11 = S1[1, 1], s12 = S1[1, 2], s13 = S1[1, 3], s22 = S1[2, 2],
    s23 = S1[2, 3], s33 = S1[3, 3],
    lme_estimate = fixef(f2)[["d3"]], lme_se = sqrt(vcov(f2)["d3", "d3"]),
    esw_estimate = r2$estimate, esw_se = r2$se, esw_se_kr = r2$se_kr, esw_df = r2$df_kr,
    esw_p = r2$p_kr, esw_tau2 = tau2, e11 = S2[1, 1], e12 = S2[1, 2], e13 = S2[1, 3],
    e22 = S2[2, 2], e23 = S2[2, 3], e33 = S2[3, 3])
}
wr(fmt(do.call(rbind, rows)), "repeated_measures_nlme.csv")
}

# --- Rubin's rules: mice::pool on completed datasets, pool.scalar on hand-made sets ------
if ("mi" %in% parts) {
cd <- read.csv(file.path(dir, "imputation_completed.csv"), check.names = FALSE)
rows <- list()
for (k in sort(unique(cd$dataset))) {
  imp <- mice::as.mids(cd[cd$dataset == k, names(cd) != "dataset"])
  fit <- with(imp, lm(y3 ~ ips + baseline))
  pl <- mice::pool(fit)
  s <- summary(pl)
  pp <- pl$pooled[pl$pooled$term == "ips", ]
  rows[[length(rows) + 1]] <- data.frame(
    dataset = k, m = pp$m, estimate = s$estimate[s$term == "ips"],
    se = s$std.error[s$term == "ips"], df = s$df[s$term == "ips"],
    p = s$p.value[s$term == "ips"], ubar = pp$ubar, b = pp$b, t = pp$t, dfcom = pp$dfcom,
    riv = pp$riv, lambda = pp$lambda, fmi = pp$fmi)
}
wr(fmt(do.call(rbind, rows)), "imputation_mice_pool.csv")
sc <- read.csv(file.path(dir, "rubin_scalar.csv"))
rows <- list()
for (j in sort(unique(sc$set))) {
  d <- sc[sc$set == j, ]
  r <- mice::pool.scalar(d$q, d$u, n = d$dfcom[1] + 1, k = 1)
  rows[[length(rows) + 1]] <- data.frame(set = j, qbar = r$qbar, ubar = r$ubar, b = r$b,
                                         t = r$t, df = r$df, r = r$r, fmi = r$fmi)
}
wr(fmt(do.call(rbind, rows)), "rubin_scalar_mice.csv")
}
