"""The run executor: claims runs, calls the provider, records steps and messages, streams events."""
