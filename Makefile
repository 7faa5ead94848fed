# The two commands of the quick start: `make demo` and `make test`. Both set up what they need.
.PHONY: demo test lint typecheck bench setup clean

setup:
	@scripts/bootstrap.sh

demo: setup
	.venv/bin/edgeferry demo

test: setup
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/python -m pytest -n 2 --dist loadfile --no-header

lint: setup
	.venv/bin/ruff check .

typecheck: setup
	.venv/bin/mypy

bench: setup
	.venv/bin/edgeferry bench

clean:
	rm -rf .demo build dist greengrass-build *.egg-info
