"""Corrupt operator option tables of a real converted .tflite never end in an internal error.

An options table whose vtable offset points outside the file makes the flatbuffers reader raise
struct.error from inside an op handler (found by the fuzz campaign on ad_fcae: a bit flip at
byte 271987). Every 32-bit word of a small converted model is overwritten with a far offset, one
at a time; each import must either succeed or fail with McuforgeError (one line, no traceback)."""
from pathlib import Path

from mcuforge.errors import McuforgeError
from mcuforge.frontend.tflite import load_tflite_bytes

FIXTURE = Path(__file__).parent / "corpus" / "fixtures" / "tf_int4_qat.tflite"


def test_far_offsets_in_every_word_are_refused_or_imported():
    src = FIXTURE.read_bytes()
    outcomes = {"imported": 0, "refused": 0}
    for at in range(0, len(src) - 3, 4):
        b = bytearray(src)
        b[at + 2] ^= 0x40                     # a far offset: 2^22 past where the word pointed
        try:
            load_tflite_bytes(bytes(b))
            outcomes["imported"] += 1
        except McuforgeError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0 and sum(outcomes.values()) == (len(src) - 3 + 3) // 4
