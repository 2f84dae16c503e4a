"""A large matrix product: what this machine's TensorFlow reaches at best, against the derived peak.

Run ``python -m keras_hdl.benchmarks.gemm [--quick] [--json]``. Square fp32 (and, where the
hardware computes bf16, bf16) ``tf.linalg.matmul`` of n × n matrices, 2n³ FLOP per product,
median of several traced calls. A rate above the derived peak means the peak's terms are
wrong (e.g. the CPU boosts above the frequency it reports); far below it, the machine is
busy with other work.
"""

from __future__ import annotations

from keras_hdl.benchmarks import Row, emit, item_parser, median_seconds, progress, start_item
from keras_hdl.benchmarks.machine import cpu_has_bf16, read_cpuinfo
from keras_hdl.benchmarks.training import gpu_available, peak_gflops


def run(quick: bool) -> list[Row]:
    import tensorflow as tf

    gpu = gpu_available()
    size = 8192 if gpu else 2048
    precisions = ["fp32"] + (["bf16"] if gpu or cpu_has_bf16(read_cpuinfo()) else [])
    rows = []
    for precision in precisions:
        progress(f"gemm: {precision} {size}×{size}")
        dtype = tf.bfloat16 if precision == "bf16" else tf.float32
        a = tf.cast(tf.random.normal([size, size]), dtype)
        b = tf.cast(tf.random.normal([size, size]), dtype)
        product = tf.function(lambda a=a, b=b: tf.reduce_sum(tf.cast(tf.linalg.matmul(a, b)[0, :1], tf.float32)))
        seconds = median_seconds(lambda product=product: product().numpy(), repeats=3 if quick else 7)
        peak, peak_name = peak_gflops(precision)
        rows.append(
            Row(
                f"GEMM {precision} {size}×{size} (tf.linalg.matmul)",
                2 * size**3 / seconds / 1e9,
                "GFLOP/s",
                peak or None,
                peak_name,
            )
        )
    return rows


def main() -> None:
    started = start_item()
    parser = item_parser(__doc__, "fewer repeats")
    args = parser.parse_args()
    emit(run(args.quick), args.json, started)


if __name__ == "__main__":
    main()
