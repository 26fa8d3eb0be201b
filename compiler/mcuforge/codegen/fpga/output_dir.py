"""The FPGA backends write their projects through the shared staged output folder."""
from ...outdir import staged_dir  # noqa: F401
