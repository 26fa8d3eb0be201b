"""Generated C: deterministic, warning-free under the strict flags, self-contained, and the
calibration methods really choose different ranges."""
import subprocess

import numpy as np

from mcuforge.api import compile_model, prepare_graph, read_info


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and "build" not in p.parts}


def test_same_input_byte_identical_output(mnist, tmp_path):
    onnx_path, (xtr, _, _, _) = mnist
    a = compile_model(onnx_path, tmp_path / "a", calib=xtr[:50], quiet=True).out_dir
    b = compile_model(onnx_path, tmp_path / "b", calib=xtr[:50], quiet=True).out_dir
    fa, fb = _files(a), _files(b)
    assert fa.keys() == fb.keys()
    assert [k for k in fa if fa[k] != fb[k]] == []


def test_library_builds_standalone_with_its_makefile_snippet(mnist, tmp_path):
    onnx_path, (xtr, _, _, _) = mnist
    mnist_int8 = compile_model(onnx_path, tmp_path / "lib", target="host", calib=xtr[:50], quiet=True).out_dir
    info = read_info(mnist_int8)
    prefix = info["prefix"]
    main = tmp_path / "main.c"
    main.write_text(f'#include "{prefix}.h"\nstatic int8_t in[{prefix.upper()}_INPUT_SIZE];\n'
                    f'static int8_t out[{prefix.upper()}_OUTPUT_SIZE];\n'
                    f'int main(void) {{ return {prefix}_run(in, out); }}\n')
    mk = tmp_path / "app_build" / "Makefile"
    mk.parent.mkdir()
    mk.write_text(f"include {mnist_int8}/{prefix}.mk\n"
                  f"app: {main} $({prefix.upper()}_SRCS)\n"
                  f"\t$(CC) -Wall -Wextra -Werror -O2 $({prefix.upper()}_CFLAGS) $^ -o $@\n")
    subprocess.run(["make", "-s", "-C", str(mk.parent), "app"], check=True)
    assert subprocess.run([str(mk.parent / "app")]).returncode == 0
    # no heap anywhere in the library
    src = "".join(p.read_text() for p in mnist_int8.rglob("*.c"))
    assert "malloc" not in src and "free(" not in src
    # an int8 model has no float arithmetic at run time
    lib = (mnist_int8 / f"{prefix}.c").read_text()
    assert "float" not in lib
    for k in info["runtime_sources"]:
        assert "f32" not in k


def test_arm_build_is_warning_free(mnist_int8):
    from mcuforge.api import simulate
    # simulate compiles the library with -Wall -Wextra -Werror for the core; it must not fail
    y, info = simulate(mnist_int8, "mps2-an385", np.zeros((1, 1, 28, 28), np.float32))
    assert y.shape == (1, 10)


def test_calibration_methods_choose_different_ranges(mnist):
    onnx_path, (xtr, _, _, _) = mnist
    ranges = {m: prepare_graph(onnx_path, "int8", xtr[:64], m, quiet=True)[1] for m in ("minmax", "percentile", "mse")}
    first_conv = next(iter(ranges["minmax"]))
    widths = {m: r[first_conv][1] - r[first_conv][0] for m, r in ranges.items()}
    assert widths["percentile"] < widths["minmax"]
    assert widths["mse"] <= widths["minmax"]
    assert any(ranges["mse"][t] != ranges["minmax"][t] for t in ranges["minmax"])
