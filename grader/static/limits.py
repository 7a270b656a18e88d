"""The size, count and depth bounds a file must stay within before anything in it is decoded.

The second group bounds what the config declares (see :mod:`grader.static.bounds`): each default is
far above what any textbook or keras.io model declares and far below what stalls or crashes a
worker (4 GiB, 60 s per task, with an LSTM step costing about 3 ms on the worker's CPU).
"""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class InspectionLimits:
    """Bounds applied before anything is decoded, then to the sizes the config declares."""

    file_mb: int = 256
    config_mb: int = 8
    weights_mb: int = 256              # the weights file, and the float32 weights the config implies
    max_ratio: float = 100.0
    max_members: int = 64
    max_layers: int = 2000
    max_depth: int = 64
    max_h5_objects: int = 20000

    # One layer. Dense(10000) vocabulary outputs, GPT-2's 50257; RNNs use at most ~1024 units.
    max_units: int = 65536
    # ResNet, Xception and InceptionV3 top out at 2048 filters.
    max_filters: int = 8192
    # Embedding input_dim and category counts: BERT 30522, GPT-2 50257, XLM-R 250002 tokens.
    max_vocabulary: int = 1 << 20
    # Kernel, pool and FFT windows: SincNet 251, DeepLabV3+ pools 32, MelSpectrogram's fft 2048.
    max_kernel_size: int = 4096
    # WaveNet dilates up to 512, long TCNs to 2048.
    max_dilation: int = 4096
    # ZeroPadding amounts and the (kernel_size - 1) * dilation_rate a causal/same conv pads: WaveNet's 512.
    max_padding: int = 8192
    # One UpSampling size, transposed-conv stride or ops.repeat/tile factor: 2-4 usually, 32 in DeepLabV3+.
    max_upsampling: int = 64
    # Their product along a path, net of pooling and strides: DeepLabV3+ nets 4, DCGAN generators 8-16.
    max_upsampling_product: int = 256
    # RepeatVector(n): one repeat per decoded step; horizons and captions are tens of steps.
    max_repeat: int = 1024
    # Declared dimensions (inputs, Reshape, Resizing, BroadcastTo): 160000 samples is 10 s of 16 kHz audio.
    max_dim: int = 1 << 20

    # The whole model, one sample at the probe length.
    # Steps one recurrent layer runs: IMDB reviews cut at 500 are the longest textbook case. An LSTM step
    # costs ~3 ms on a CPU worker (measured: 14336 steps took 41 s), so 4096 steps are ~12 s a call.
    max_recurrent_steps: int = 4096
    # Values in the largest layer output: 64 Mi float32 is 256 MiB a sample (a probe batch of 3 stays
    # under 1 GiB). InceptionV3 inside TimeDistributed over 16 frames of 299x299 needs 22 M; keras.io's
    # DeepLabV3+ at 512x512 needs exactly 64 Mi, the largest real model measured.
    max_activation_elements: int = 64 << 20
    # The time axis when the input leaves it free: the worker probes sequences with 8, 11 or 56 steps
    # and videos with 6 frames.
    nominal_steps: int = 64
    nominal_frames: int = 16


DEFAULT_INSPECTION_LIMITS = InspectionLimits()
