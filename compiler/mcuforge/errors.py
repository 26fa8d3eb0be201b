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


# What to use instead of ops that models often carry and no frontend imports (ONNX and TFLite names).
ALTERNATIVES = {
    "LSTM": "unroll the recurrence into MatMul / Add / Sigmoid / Tanh (export with a fixed sequence length)",
    "GRU": "unroll the recurrence into MatMul / Add / Sigmoid / Tanh (export with a fixed sequence length)",
    "RNN": "unroll the recurrence into MatMul / Add / Tanh (export with a fixed sequence length)",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "unroll the recurrence into FULLY_CONNECTED / ADD / LOGISTIC / TANH",
    "Einsum": "MatMul with Transpose / Reshape",
    "InstanceNormalization": "LayerNormalization or BatchNormalization",
    "GroupNormalization": "LayerNormalization or BatchNormalization",
    "ArgMax": "return the scores and take the argmax in the caller",
    "ARG_MAX": "return the scores and take the argmax in the caller",
    "TopK": "return the scores and select in the caller",
    "NonMaxSuppression": "run non-max suppression in the caller on the network's boxes and scores",
    "Softplus": "Relu, Elu or Gelu (elementwise functions run as int8 tables)",
    "Mish": "HardSwish or x * Tanh(...) written with Tanh and Mul",
    "ConvInteger": "QuantizeLinear / DequantizeLinear around a float Conv (QDQ)",
    "QLinearConv": "QuantizeLinear / DequantizeLinear around a float Conv (QDQ)",
    "MatMulInteger": "QuantizeLinear / DequantizeLinear around a float MatMul (QDQ)",
}


def closest_supported(op_type: str, supported) -> str:
    """A hint for an unsupported op: a known replacement, else the nearest supported names."""
    import difflib
    if op_type in ALTERNATIVES:
        return f"closest supported form: {ALTERNATIVES[op_type]}"
    names = sorted(set(supported))
    near = difflib.get_close_matches(op_type, names, n=3, cutoff=0.5) or \
        difflib.get_close_matches(op_type.upper(), [n.upper() for n in names], n=3, cutoff=0.5)
    return f"closest supported: {', '.join(near)}" if near else "no similar op is supported"
