"""What a run is given: the config schema, the checked frozen parameters and the pilot
evidence behind them."""
