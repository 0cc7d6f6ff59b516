"""How many simulated trials a share conditional on the trial's fate needs before any
output quotes it.

Why one place: the terminal, the report, summary.json and the proposed red lines must
agree on when such a share (power among trials reaching N, a red line calibrated on the
trials that succeed) rests on too few trials to print.
"""

FEW_TRIALS = 10  # fewer trials in the condition: the share is not quoted


def too_few_words(n: int) -> str:
    """What is printed instead of a share from `n` (< FEW_TRIALS) trials."""
    return f"n/a ({n} trial{'' if n == 1 else 's'}; at least {FEW_TRIALS} needed)"
