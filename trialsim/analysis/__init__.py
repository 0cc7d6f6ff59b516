"""How a simulated trial is analysed: the estimators the real trial would run."""
