"""The one exception type a user sees: its message is printed as a single line by the CLI."""


class McuforgeError(Exception):
    """A problem with the user's input or environment (bad model, missing tool, too big)."""


class UnsupportedOpError(McuforgeError):
    def __init__(self, op_type: str, node_name: str, detail: str = ""):
        msg = f"unsupported op {op_type!r} at node {node_name!r}"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)
        self.op_type = op_type
        self.node_name = node_name
