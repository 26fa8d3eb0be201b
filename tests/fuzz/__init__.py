"""Mutation fuzzing of the frontends and the C backend (issue 15): seeds, mutators, a harness
that classifies what `mcuforge compile` does with each mutant."""
