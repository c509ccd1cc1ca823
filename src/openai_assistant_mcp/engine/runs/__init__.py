"""Run lifecycle: execution, provider turns, stream events and the built-in tool seam."""
