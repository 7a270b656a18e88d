"""The per-sample output shape a layer's config implies for a given input shape, worked out without Keras.

Shapes leave out the batch axis: ``(56, 32)`` is a sequence of 56 steps of 32 features. An axis is
None where the config does not fix it, and a whole shape is None where the layer is not one whose
output this module knows; :mod:`grader.static.bounds` then skips what it cannot work out rather than
guess. Only the ``channels_last`` layout is worked out.
"""

from __future__ import annotations

from math import prod
from typing import Any

from grader.static.description import CONV1D_CLASSES, CONV2D_CLASSES, CONV3D_CLASSES

Shape = tuple[int | None, ...]

RNN_CLASSES = frozenset({"SimpleRNN", "LSTM", "GRU", "RNN", "CuDNNLSTM", "CuDNNGRU"})
CONV_LSTM_CLASSES = frozenset({"ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"})
CONV_CLASSES = CONV1D_CLASSES | CONV2D_CLASSES | CONV3D_CLASSES
TRANSPOSE_CLASSES = frozenset({"Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Convolution1DTranspose",
                               "Convolution2DTranspose", "Convolution3DTranspose"})
POOL_CLASSES = frozenset(f"{kind}{d}D" for kind in ("MaxPooling", "AveragePooling", "MaxPool", "AvgPool")
                         for d in (1, 2, 3))
GLOBAL_POOL_CLASSES = frozenset(f"Global{kind}{d}D" for kind in ("MaxPooling", "AveragePooling", "MaxPool", "AvgPool")
                                for d in (1, 2, 3))
ADAPTIVE_POOL_CLASSES = frozenset(f"Adaptive{kind}Pooling{d}D" for kind in ("Max", "Average") for d in (1, 2, 3))
UPSAMPLING_CLASSES = frozenset({"UpSampling1D", "UpSampling2D", "UpSampling3D"})
PADDING_CLASSES = frozenset({"ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"})
CROPPING_CLASSES = frozenset({"Cropping1D", "Cropping2D", "Cropping3D"})
ATTENTION_CLASSES = frozenset({"Attention", "AdditiveAttention", "MultiHeadAttention",
                               "GroupQueryAttention", "GroupedQueryAttention"})
MERGE_CLASSES = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})
CATEGORY_CLASSES = frozenset({"CategoryEncoding", "Hashing", "HashedCrossing", "Discretization"})

# Layers and keras.ops operations whose output has the shape of their (main) input.
SAME_SHAPE = frozenset("""
Activation Dropout AlphaDropout GaussianDropout GaussianNoise SpatialDropout1D SpatialDropout2D SpatialDropout3D
BatchNormalization LayerNormalization GroupNormalization UnitNormalization RMSNormalization Normalization Rescaling
Masking ReLU LeakyReLU ELU PReLU Softmax ThresholdedReLU ActivityRegularization Identity
AugMix AutoContrast CutMix Equalization MixUp RandAugment RandomBrightness RandomColorDegeneration RandomColorJitter
RandomContrast RandomElasticTransform RandomErasing RandomFlip RandomGaussianBlur RandomGrayscale RandomHue
RandomInvert RandomPerspective RandomPosterization RandomRotation RandomSaturation RandomSharpness RandomShear
RandomTranslation RandomZoom Solarization
Abs Absolute Arccos Arccosh Arcsin Arcsinh Arctan Arctanh Cbrt Ceil Clip Copy Cos Cosh Cumprod Cumsum Exp Exp2 Expm1
Flip Floor Isfinite Isinf Isnan Log Log10 Log1p Log2 LogicalNot NanToNum Negative OnesLike Reciprocal Roll Round
Sign Sin Sinh Sort Sqrt Square Tan Tanh ZerosLike Cast SaturateCast ConvertToTensor StopGradient Rsqrt Erf Erfc
Relu Relu6 Sigmoid SparseSigmoid Softplus Softsign SoftShrink SparsePlus Silu Squareplus LogSigmoid LeakyRelu
HardSigmoid HardSilu Elu Selu Gelu Celu TanhShrink HardTanh HardShrink Threshold LogSoftmax Sparsemax Normalize Mish
""".split())
# Layers and operations that combine their inputs element by element, broadcasting them.
BROADCAST = frozenset("""
Divide DivideNoNan TrueDivide FloorDivide Power Mod Fmod Equal NotEqual Greater GreaterEqual Less LessEqual
LogicalAnd LogicalOr LogicalXor Arctan2 Logaddexp Fmax Fmin Where
""".split()) | MERGE_CLASSES


def unwrap(value: Any) -> Any:
    """A saved ``__tuple__`` as its list; anything else unchanged."""
    if isinstance(value, dict) and value.get("class_name") == "__tuple__":
        inner = value.get("config")
        return inner.get("value") if isinstance(inner, dict) else None
    return value


def whole(value: Any) -> int | None:
    """``value`` if it is a (non-bool) integer, else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def per_axis(value: Any, rank: int, default: int | None = None) -> tuple[int, ...] | None:
    """An int or a list of ints as one int per axis (``kernel_size=3`` in 2D is ``(3, 3)``)."""
    value = unwrap(value)
    if value is None and default is not None:
        return (default,) * rank
    if whole(value) is not None:
        return (value,) * rank
    if isinstance(value, list) and len(value) == rank and all(whole(v) is not None for v in value):
        return tuple(value)
    return None


def positive(value: Any) -> int | None:
    """``value`` if it is an integer above 0, else None (Keras refuses sizes of 0 or less)."""
    return value if whole(value) is not None and value > 0 else None


def elements(shape: Shape | None) -> int | None:
    """The number of values in one sample of ``shape``, or None if an axis is unknown (or not a size)."""
    if shape is None or any(positive(d) is None for d in shape):
        return None
    return prod(shape)  # type: ignore[arg-type]


def spatial_rank(class_name: str) -> int:
    """1, 2 or 3: the number of spatial axes a convolution, pooling or padding layer works on (0 if none)."""
    for rank in (3, 2, 1):
        if f"{rank}D" in class_name:
            return rank
    return 0


def _conv_length(n: int | None, k: int, s: int, d: int, padding: Any) -> int | None:
    if n is None or s < 1:
        return None
    if padding == "valid":
        out = (n - d * (k - 1) - 1) // s + 1
        return out if out > 0 else None
    return -(-n // s) if padding in ("same", "causal") else None


def _transpose_length(n: int | None, k: int, s: int, d: int, padding: Any) -> int | None:
    if n is None:
        return None
    if padding == "same":
        return n * s
    return (n - 1) * s + d * (k - 1) + 1 if padding == "valid" else None


def _spatial(main: Shape, rank: int, config: dict, transpose: bool = False, pool: bool = False) -> Shape | None:
    """The spatial axes after a convolution or pooling over the last ``rank`` axes before the channels."""
    if len(main) < rank + 1 or config.get("data_format") == "channels_first":
        return None
    window = per_axis(config.get("pool_size" if pool else "kernel_size"), rank)
    strides = per_axis(config.get("strides"), rank, default=1)
    if pool and unwrap(config.get("strides")) is None:
        strides = window
    dilation = per_axis(config.get("dilation_rate"), rank, default=1) if not pool else (1,) * rank
    if window is None or strides is None or dilation is None:
        return None
    padding = config.get("padding", "valid")
    length = _transpose_length if transpose else _conv_length
    axes = main[-rank - 1:-1]
    lengths = tuple(length(n, k, s, d, padding) for n, k, s, d in zip(axes, window, strides, dilation))
    if any(out is None and n is not None for out, n in zip(lengths, axes)):
        return None     # an unknown padding mode, or a window longer than the input: Keras refuses it
    return lengths


def _pads(value: Any, rank: int) -> tuple[tuple[int, int], ...] | None:
    """ZeroPadding / Cropping amounts as one (before, after) pair per axis."""
    value = unwrap(value)
    if whole(value) is not None:
        return ((value, value),) * rank
    if not isinstance(value, list) or len(value) not in (rank, 2):
        return None
    if rank == 1 and len(value) == 2 and all(whole(v) is not None for v in value):
        return ((value[0], value[1]),)
    pairs = []
    for item in value:
        item = unwrap(item)
        if whole(item) is not None:
            pairs.append((item, item))
        elif isinstance(item, list) and len(item) == 2 and all(whole(v) is not None for v in item):
            pairs.append((item[0], item[1]))
        else:
            return None
    return tuple(pairs) if len(pairs) == rank else None


def _broadcast(shapes: list[Shape | None]) -> Shape | None:
    known = [s for s in shapes if s is not None]
    if not known or len(known) != len(shapes):
        return None
    rank = max(len(s) for s in known)
    padded = [(1,) * (rank - len(s)) + tuple(s) for s in known]
    out: list[int | None] = []
    for axis in zip(*padded):
        sizes = [d for d in axis if d is not None]
        out.append(max(sizes) if len(sizes) == len(axis) else None)
    return tuple(out)


def _concatenate(shapes: list[Shape | None], axis: Any) -> Shape | None:
    if not shapes or any(s is None for s in shapes) or whole(axis) is None:
        return None
    rank = len(shapes[0])  # type: ignore[arg-type]
    if any(len(s) != rank for s in shapes) or rank == 0:  # type: ignore[arg-type]
        return None
    index = axis - 1 if axis > 0 else rank + axis
    if not 0 <= index < rank:
        return None
    joined = [s[index] for s in shapes]  # type: ignore[index]
    total = sum(joined) if all(d is not None for d in joined) else None  # type: ignore[arg-type]
    return tuple(total if i == index else shapes[0][i] for i in range(rank))  # type: ignore[index]


def _reshape(main: Shape | None, target: Any) -> Shape | None:
    target = unwrap(target)
    if not isinstance(target, list) or not all(whole(d) is not None for d in target):
        return None
    if -1 not in target:
        return tuple(target)
    count = elements(main)
    rest = prod(d for d in target if d != -1)
    if target.count(-1) != 1 or count is None or rest <= 0 or count % rest:
        return tuple(None if d == -1 else d for d in target)
    return tuple(count // rest if d == -1 else d for d in target)


def output_shape(class_name: str, config: dict, inputs: list[Shape | None], *, width: int | None = None,
                 time_step: int | None = None) -> Shape | None:
    """The per-sample output of one layer (already unwrapped from TimeDistributed) given its inputs' shapes.

    ``inputs[0]`` is the main input; ``width`` is the units of a recurrent layer (or of its cell);
    ``time_step`` the step a GetItem node keeps. None when the output cannot be worked out.
    """
    main = inputs[0] if inputs else None
    rank = spatial_rank(class_name)
    if class_name in RNN_CLASSES:
        if not width:
            return None
        return (main[0] if main else None, width) if config.get("return_sequences") else (width,)
    if class_name in SAME_SHAPE:
        return main
    if class_name in BROADCAST:
        return _broadcast(inputs)
    if class_name == "Dense":
        units = whole(config.get("units"))
        return main[:-1] + (units,) if main and units else None
    if class_name in ("Embedding", "ReversibleEmbedding"):
        width = whole(config.get("output_dim"))
        return main + (width,) if main is not None and width else None
    if class_name == "EinsumDense":
        shape = unwrap(config.get("output_shape"))
        shape = [shape] if whole(shape) is not None else shape
        return tuple(whole(d) for d in shape) if isinstance(shape, list) else None
    if class_name == "GetItem":
        return main[1:] if main and time_step is not None else None
    if main is None:
        return None
    return _shaped(class_name, config, main, inputs, rank)


def _shaped(class_name: str, config: dict, main: Shape, inputs: list[Shape | None], rank: int) -> Shape | None:
    """The layers whose output needs a known input shape."""
    if class_name in CONV_LSTM_CLASSES:
        filters = whole(config.get("filters"))
        spatial = _spatial(main[1:], rank, config) if len(main) == rank + 2 else None
        if spatial is None or not filters:
            return None
        return (main[0], *spatial, filters) if config.get("return_sequences") else (*spatial, filters)
    if class_name in CONV_CLASSES or class_name in TRANSPOSE_CLASSES:
        spatial = _spatial(main, rank, config, transpose=class_name in TRANSPOSE_CLASSES)
        filters = whole(config.get("filters"))
        if class_name.startswith("Depthwise"):
            multiplier, channels = whole(config.get("depth_multiplier", 1)), main[-1]
            filters = multiplier * channels if multiplier and channels else None
        return (*main[:-rank - 1], *spatial, filters) if spatial is not None and filters else None
    if class_name in POOL_CLASSES:
        spatial = _spatial(main, rank, config, pool=True)
        return (*main[:-rank - 1], *spatial, main[-1]) if spatial is not None else None
    if class_name in GLOBAL_POOL_CLASSES:
        if config.get("data_format") == "channels_first" or len(main) != rank + 1:
            return None
        return (1,) * rank + main[-1:] if config.get("keepdims") else main[-1:]
    if class_name in ADAPTIVE_POOL_CLASSES:
        size = per_axis(config.get("output_size"), rank)
        return (*size, main[-1]) if size and len(main) == rank + 1 else None
    if class_name in UPSAMPLING_CLASSES or class_name in PADDING_CLASSES or class_name in CROPPING_CLASSES:
        return _resampled(class_name, config, main, rank)
    if class_name == "RepeatVector":
        n = whole(config.get("n"))
        return (n, *main) if n and len(main) == 1 else None
    if class_name == "Reshape":
        return _reshape(main, config.get("target_shape"))
    if class_name == "Flatten":
        count = elements(main)
        return (count,) if count is not None else (None,)
    if class_name == "Permute":
        dims = unwrap(config.get("dims"))
        if isinstance(dims, list) and sorted(dims) == list(range(1, len(main) + 1)):
            return tuple(main[d - 1] for d in dims)
        return None
    if class_name == "Concatenate":
        return _concatenate(inputs, config.get("axis", -1))
    if class_name in ATTENTION_CLASSES:
        width = whole(unwrap(config.get("output_shape")))
        return main[:-1] + (width,) if width else main
    if class_name in CATEGORY_CLASSES:
        return _categories(config, main)
    if class_name in ("Resizing", "CenterCrop", "RandomCrop"):
        height, width = whole(config.get("height")), whole(config.get("width"))
        return (height, width, main[-1]) if height and width and len(main) == 3 else None
    return _operation(class_name, config, main)


def _resampled(class_name: str, config: dict, main: Shape, rank: int) -> Shape | None:
    if len(main) < rank + 1 or config.get("data_format") == "channels_first":
        return None
    axes = main[-rank - 1:-1]
    if class_name in UPSAMPLING_CLASSES:
        size = per_axis(config.get("size"), rank)
        lengths = tuple(n * f if n is not None else None for n, f in zip(axes, size)) if size else None
    else:
        pads = _pads(config.get("padding" if class_name in PADDING_CLASSES else "cropping"), rank)
        sign = 1 if class_name in PADDING_CLASSES else -1
        lengths = tuple(n + sign * (a + b) if n is not None else None
                        for n, (a, b) in zip(axes, pads)) if pads else None
        if lengths and any(n is not None and n <= 0 for n in lengths):
            return None
    return (*main[:-rank - 1], *lengths, main[-1]) if lengths is not None else None


def _categories(config: dict, main: Shape) -> Shape | None:
    count = whole(config.get("num_tokens", config.get("num_bins")))
    mode = config.get("output_mode", "int")
    if mode == "int":
        return main
    if not count:
        return None
    return main + (count,) if mode == "one_hot" else main[:-1] + (count,)


def _operation(class_name: str, config: dict, main: Shape) -> Shape | None:
    """keras.ops operations that resize a tensor; their axes count the batch axis, which is axis 0."""
    full = (None, *main)
    if class_name == "Repeat":
        repeats, axis = whole(config.get("repeats")), config.get("axis")
        if not repeats or whole(axis) is None or not 1 <= axis % len(full) < len(full):
            return None
        index = axis % len(full)
        return tuple(d * repeats if i == index and d is not None else d for i, d in enumerate(full))[1:]
    if class_name == "Tile":
        reps = unwrap(config.get("repeats"))
        reps = [reps] if whole(reps) is not None else reps
        if not isinstance(reps, list) or not all(whole(r) is not None for r in reps) or len(reps) > len(full):
            return None
        reps = [1] * (len(full) - len(reps)) + reps
        return tuple(d * r if d is not None else None for d, r in zip(full, reps))[1:]
    if class_name == "Pad":
        widths = unwrap(config.get("pad_width"))
        if not isinstance(widths, list) or len(widths) != len(full):
            return None
        pairs = [unwrap(w) for w in widths]
        if not all(isinstance(p, list) and len(p) == 2 and all(whole(v) is not None for v in p) for p in pairs):
            return None
        return tuple(d + a + b if d is not None else None for d, (a, b) in zip(full, pairs))[1:]
    if class_name in ("Reshape", "BroadcastTo"):
        target = unwrap(config.get("newshape" if class_name == "Reshape" else "shape"))
        if isinstance(target, list) and len(target) > 1 and all(whole(d) is not None and d > 0 for d in target[1:]):
            return tuple(target[1:])
        return None
    if class_name == "OneHot":
        count = whole(config.get("num_classes"))
        return main + (count,) if count and config.get("axis", -1) == -1 else None
    return None
