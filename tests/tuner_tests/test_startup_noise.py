"""TensorFlow's start-up lines are told from the run's own output by one rule (tuner.capture.startup_noise): the
lines below were written down from real runs, the rest of each block is what a reader must still see."""

from __future__ import annotations

import pytest

from tuner.capture.startup_noise import fold_startup_lines, hidden_note, is_startup_line

#: TensorFlow 2.21 / Keras 3.15 on this CPU-only machine: `import tensorflow`, then the first model (stderr, as is)
TF_2_21_CPU = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796675899.095918    4765 port.cc:153] oneDNN custom operations are on. You may see slightly different \
numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the \
environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796675899.096304    4765 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796675899.229925    4765 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available \
CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 FMA, in other operations, rebuild \
TensorFlow with the appropriate compiler flags.
E0000 00:00:1796675913.093887    4765 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to \
cuInit: UNKNOWN ERROR (303)
"""

#: TensorFlow 2.15-2.17 on a GPU machine (the timestamped format; tensorflow/tensorflow#62075, kr-colab/ReLERNN#63)
TF_2_15_GPU = """\
2025-02-09 09:37:32.334610: E external/local_xla/xla/stream_executor/cuda/cuda_dnn.cc:9261] Unable to register cuDNN \
factory: Attempting to register factory for plugin cuDNN when one has already been registered
2025-02-09 09:37:32.334667: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:607] Unable to register cuFFT \
factory: Attempting to register factory for plugin cuFFT when one has already been registered
2025-02-09 09:37:32.335925: E external/local_xla/xla/stream_executor/cuda/cuda_blas.cc:1515] Unable to register cuBLAS \
factory: Attempting to register factory for plugin cuBLAS when one has already been registered
2025-02-09 09:37:32.343117: I tensorflow/core/platform/cpu_feature_guard.cc:182] This TensorFlow binary is optimized \
to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate \
compiler flags.
2025-02-09 09:37:33.337631: W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] TF-TRT Warning: Could not find \
TensorRT
2025-02-09 09:37:34.496341: I external/local_xla/xla/stream_executor/cuda/cuda_executor.cc:901] successful NUMA node \
read from SysFS had negative value (-1), but there must be at least one NUMA node, so returning NUMA node zero.
"""

#: TensorFlow 2.18+ on a GPU machine (absl's format; bmaltais/kohya_ss#3320)
TF_2_19_GPU = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
E0000 00:00:1751448150.986970   10148 cuda_dnn.cc:8579] Unable to register cuDNN factory: Attempting to register \
factory for plugin cuDNN when one has already been registered
E0000 00:00:1751448150.991431   10148 cuda_blas.cc:1407] Unable to register cuBLAS factory: Attempting to register \
factory for plugin cuBLAS when one has already been registered
W0000 00:00:1751448151.003754   10148 computation_placer.cc:177] computation placer already registered. Please check \
linkage and avoid linking the same target more than once.
"""

#: what the run itself printed, and TensorFlow's lines that report a real problem: never hidden
KEPT = """\
Epoch 1/6
6/6 - 1s - 238ms/step - accuracy: 0.3490 - loss: 1.0515 - val_accuracy: 0.2969 - val_loss: 0.9801
W0000 00:00:1751448290.120044   10148 bfc_allocator.cc:291] Allocator (GPU_0_bfc) ran out of memory trying to \
allocate 2.00GiB with freed_by_count=0.
2024-05-01 12:00:03.101010: W tensorflow/core/framework/op_kernel.cc:1827] OP_REQUIRES failed at \
matmul_op_impl.h:731 : RESOURCE_EXHAUSTED: OOM when allocating tensor with shape[8192,8192]
E0000 00:00:1751448290.330101   10148 meta_optimizer.cc:966] model_pruner failed: INVALID_ARGUMENT: Graph does not \
contain terminal node Adam/AssignAddVariableOp.
/usr/lib/python3/site-packages/keras/src/layers/core/dense.py:87: UserWarning: Do not pass an `input_shape` argument
Could not find cuda drivers? Then train on the CPU: --device cpu
tf.config.list_physical_devices('GPU') = []
"""


@pytest.mark.parametrize("block", [TF_2_21_CPU, TF_2_15_GPU, TF_2_19_GPU], ids=["tf2.21-cpu", "tf2.15-gpu", "tf2.19-gpu"])
def test_every_start_up_line_of_real_tensorflow_output_is_hidden(block: str) -> None:
    assert [line for line in block.splitlines() if not is_startup_line(line)] == []


def test_the_runs_own_lines_and_real_tensorflow_failures_are_kept() -> None:
    assert [line for line in KEPT.splitlines() if is_startup_line(line)] == []


def test_folding_keeps_the_other_lines_in_order_with_their_line_ends_and_counts_the_rest() -> None:
    own = KEPT.splitlines(keepends=True)
    text = TF_2_21_CPU + own[0] + TF_2_19_GPU.replace("\n", "\r\n") + "".join(own[1:])
    folded = fold_startup_lines(text)
    assert folded.shown == KEPT
    assert folded.hidden == tuple(TF_2_21_CPU.splitlines() + TF_2_19_GPU.splitlines())
    assert folded.hidden_note == "10 TensorFlow start-up lines hidden"
    assert fold_startup_lines("no newline at the end").shown == "no newline at the end"
    assert hidden_note(1) == "1 TensorFlow start-up line hidden" and hidden_note(0) == ""
