# The two commands that do everything on a fresh machine.
PYTHON ?= python3

.PHONY: demo test test-all install

install:
	bash .ci/install-deps

# Train the example CNN on real MNIST digits, compile it to int8 C, run it on an emulated
# Cortex-M4 (QEMU mps2-an386) and print the per-layer report and the measurements.
demo: install
	$(PYTHON) examples/mnist_cnn.py

# The default test run (slow end-to-end cases excluded; `make test-all` includes them).
test:
	$(PYTHON) -m pytest -q -n 2 --dist loadfile

test-all:
	$(PYTHON) -m pytest -q -n 2 --dist loadfile -m ""
