"""What a saved model config may name: Keras's own built-in classes, nothing else.

Loading a Keras file deserialises every ``{"class_name": ..., "module": ...}``
object in its config, which can import modules and call functions. The
inspector walks every object of a config (inside wrappers, nested models and
the compile config too) and refuses anything not listed here before any
loader sees the file.
"""

from __future__ import annotations

# Layers that execute code, load other files, or reach outside the model.
FORBIDDEN_LAYERS = {
    "Lambda": "Lambda layers carry Python bytecode that runs when the file is loaded; "
              "replace it with built-in Keras layers",
    "TFSMLayer": "TFSMLayer loads a TensorFlow SavedModel from disk",
    "TorchModuleWrapper": "TorchModuleWrapper unpickles a PyTorch module",
    "JaxLayer": "JaxLayer wraps arbitrary JAX functions",
    "FlaxLayer": "FlaxLayer wraps arbitrary Flax modules",
    "StringLookup": "lookup layers can read vocabulary files from disk",
    "IntegerLookup": "lookup layers can read vocabulary files from disk",
    "TextVectorization": "TextVectorization can read vocabulary files from disk",
    "Layer": "a bare Layer is only a base class for custom code",
    "Wrapper": "a bare Wrapper is only a base class for custom code",
    "Pipeline": "Pipeline layers are not needed for this assignment",
}

LAYERS = frozenset("""
Activation ActivityRegularization AdaptiveAveragePooling1D AdaptiveAveragePooling2D AdaptiveAveragePooling3D
AdaptiveMaxPooling1D AdaptiveMaxPooling2D AdaptiveMaxPooling3D Add AdditiveAttention AlphaDropout Attention
AugMix AutoContrast Average AveragePooling1D AveragePooling2D AveragePooling3D AvgPool1D AvgPool2D AvgPool3D
BatchNormalization Bidirectional CategoryEncoding CenterCrop Concatenate Conv1D Conv1DTranspose Conv2D
Conv2DTranspose Conv3D Conv3DTranspose ConvLSTM1D ConvLSTM2D ConvLSTM3D Convolution1D Convolution1DTranspose
Convolution2D Convolution2DTranspose Convolution3D Convolution3DTranspose Cropping1D Cropping2D Cropping3D
CutMix Dense DepthwiseConv1D DepthwiseConv2D Discretization Dot Dropout ELU EinsumDense Embedding
Equalization Flatten GRU GRUCell GaussianDropout GaussianNoise GlobalAveragePooling1D
GlobalAveragePooling2D GlobalAveragePooling3D GlobalAvgPool1D GlobalAvgPool2D GlobalAvgPool3D GlobalMaxPool1D
GlobalMaxPool2D GlobalMaxPool3D GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D GroupNormalization
GroupQueryAttention HashedCrossing Hashing Identity InputLayer LSTM LSTMCell LayerNormalization LeakyReLU
Masking MaxPool1D MaxPool2D MaxPool3D MaxPooling1D MaxPooling2D MaxPooling3D Maximum MelSpectrogram
Minimum MixUp MultiHeadAttention Multiply Normalization PReLU Permute RMSNormalization RNN RandAugment
RandomBrightness RandomColorDegeneration RandomColorJitter RandomContrast RandomCrop RandomElasticTransform
RandomErasing RandomFlip RandomGaussianBlur RandomGrayscale RandomHue RandomInvert RandomPerspective
RandomPosterization RandomRotation RandomSaturation RandomSharpness RandomShear RandomTranslation RandomZoom
ReLU RepeatVector Rescaling Reshape Resizing ReversibleEmbedding STFTSpectrogram SeparableConv1D
SeparableConv2D SeparableConvolution1D SeparableConvolution2D SimpleRNN SimpleRNNCell Softmax Solarization
SpatialDropout1D SpatialDropout2D SpatialDropout3D SpectralNormalization StackedRNNCells Subtract
TimeDistributed UnitNormalization UpSampling1D UpSampling2D UpSampling3D ZeroPadding1D ZeroPadding2D
ZeroPadding3D
CuDNNLSTM CuDNNGRU ThresholdedReLU Merge
""".split())

MODELS = frozenset({"Sequential", "Functional", "Model"})

OPTIMIZERS = frozenset("""
Adadelta Adafactor Adagrad Adam AdamW Adamax Ftrl Lamb Lion Nadam RMSprop SGD LossScaleOptimizer
""".split())

SCHEDULES = frozenset("""
CosineDecay CosineDecayRestarts ExponentialDecay InverseTimeDecay PiecewiseConstantDecay PolynomialDecay
""".split())

INITIALIZERS = frozenset("""
Constant GlorotNormal GlorotUniform HeNormal HeUniform Identity IdentityInitializer LecunNormal LecunUniform
Ones Orthogonal OrthogonalInitializer RandomNormal RandomUniform TruncatedNormal VarianceScaling Zeros
""".split())

REGULARIZERS = frozenset({"L1", "L2", "L1L2", "OrthogonalRegularizer"})
CONSTRAINTS = frozenset({"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "RadialConstraint"})

LOSSES = frozenset("""
BinaryCrossentropy BinaryFocalCrossentropy CategoricalCrossentropy CategoricalFocalCrossentropy
CategoricalHinge CosineSimilarity Hinge Huber KLDivergence LogCosh MeanAbsoluteError
MeanAbsolutePercentageError MeanSquaredError MeanSquaredLogarithmicError Poisson
SparseCategoricalCrossentropy SquaredHinge
""".split())

METRICS = frozenset("""
AUC Accuracy BinaryAccuracy BinaryCrossentropy CategoricalAccuracy CategoricalCrossentropy
CategoricalHinge CosineSimilarity F1Score FBetaScore FalseNegatives FalsePositives Hinge KLDivergence
LogCoshError Mean MeanAbsoluteError MeanAbsolutePercentageError MeanSquaredError
MeanSquaredLogarithmicError Poisson Precision R2Score Recall RootMeanSquaredError
SparseCategoricalAccuracy SparseCategoricalCrossentropy SparseTopKCategoricalAccuracy SquaredHinge Sum
TopKCategoricalAccuracy TrueNegatives TruePositives MeanMetricWrapper
""".split())

# Serialisation markers Keras writes for tensors, tuples and dtype policies.
MARKERS = frozenset({"__keras_tensor__", "__tuple__", "__list__", "__numpy__", "__tensor__", "__slice__",
                     "__ellipsis__", "DTypePolicy", "FloatDTypePolicy", "Policy", "QuantizedDTypePolicy"})

ACTIVATIONS = frozenset("""
celu elu exponential gelu glu hard_shrink hard_sigmoid hard_silu hard_swish hard_tanh leaky_relu linear
log_sigmoid log_softmax mish relu relu6 selu sigmoid silu soft_shrink softmax softplus softsign sparse_plus
sparse_sigmoid sparsemax squareplus swish tanh tanh_shrink threshold
""".split())

ALLOWED_CLASSES = LAYERS | MODELS | OPTIMIZERS | SCHEDULES | INITIALIZERS | REGULARIZERS | CONSTRAINTS \
    | LOSSES | METRICS | MARKERS

# Modules Keras itself writes into configs. Anything else (another package,
# keras.utils, keras.config, keras.src.saving ...) is refused.
ALLOWED_MODULES = frozenset({
    "keras", "keras.layers", "keras.models", "keras.optimizers", "keras.optimizers.schedules",
    "keras.initializers", "keras.regularizers", "keras.constraints", "keras.losses", "keras.metrics",
    "keras.activations", "keras.dtype_policies", "keras.mixed_precision",
    "keras.src.models.functional", "keras.src.models.sequential", "keras.src.models.model",
})

# Keras 2.11+ wrote its new optimizers as "Custom>Adam"; the optimizer is never
# deserialised (models load with compile=False), so only the name is read.
CUSTOM_PREFIX = "Custom>"

# A Keras 3 functional model records every keras.ops call on a symbolic tensor
# (``h[:, -1]``, ``ops.mean(h, axis=1)``, and the NotEqual/Any pair a Masking
# layer adds) as an operation "layer" from one of these modules. Keras imports
# the module and takes the class from it, so each module may name only the
# pure tensor operations listed here; operations that carry Python callables
# (Map, Scan, WhileLoop, Cond, VectorizedMap ...) are not listed.
OPERATIONS: dict[str, frozenset[str]] = {
    "keras.src.ops.numpy": frozenset("""
Abs Absolute Add All Amax Amin Any Append Arccos Arccosh Arcsin Arcsinh Arctan Arctan2 Arctanh Argmax Argmin
Argsort Average BroadcastTo Cbrt Ceil Clip Concatenate Copy Cos Cosh CountNonzero Cumprod Cumsum Diff Divide
DivideNoNan Dot Einsum Equal Exp Exp2 ExpandDims Expm1 Flip Floor FloorDivide Fmax Fmin Fmod Greater GreaterEqual
Hstack Isfinite Isinf Isnan Less LessEqual Log Log10 Log1p Log2 Logaddexp LogicalAnd LogicalNot LogicalOr
LogicalXor Matmul Max Maximum Mean Median Min Minimum Mod Moveaxis NanToNum Negative NotEqual OnesLike Pad
Power Prod Ravel Reciprocal Repeat Reshape Roll Round Sign Sin Sinh Sort Split Sqrt Square Squeeze Stack Std
Subtract Sum Swapaxes Take TakeAlongAxis Tan Tanh Tensordot Tile Transpose TrueDivide Var Vstack Where ZerosLike
Multiply GetItem
""".split()),
    "keras.src.ops.core": frozenset({"Cast", "SaturateCast", "ConvertToTensor", "Slice", "Unstack", "StopGradient"}),
    "keras.src.ops.math": frozenset({"Logsumexp", "Rsqrt", "Erf", "Erfc", "TopK", "InTopK", "ExtractSequences"}),
    "keras.src.ops.nn": frozenset("""
Relu Relu6 Sigmoid SparseSigmoid Softplus Softsign SoftShrink SparsePlus Silu Squareplus LogSigmoid LeakyRelu
HardSigmoid HardSilu Elu Selu Gelu Celu Glu TanhShrink HardTanh HardShrink Threshold Softmax LogSoftmax
Sparsemax OneHot Normalize Moments
""".split()),
    "keras.src.activations.activations": frozenset({"ReLU", "Mish"}),
}
OPERATION_CLASSES = frozenset().union(*OPERATIONS.values())

# Keras 2 (keras 2.x and tf-keras) name these modules in a .keras config. Keras
# 3 never imports them (it only imports keras.* modules, and these do not exist
# in Keras 3), so they are accepted for exactly the classes listed.
KERAS2_MODULES: dict[str, frozenset[str]] = {
    **{f"{package}.{module}": MODELS
       for package in ("keras.engine", "keras.src.engine", "tf_keras.engine", "tf_keras.src.engine")
       for module in ("functional", "sequential", "training")},
    "keras.optimizers.legacy": OPTIMIZERS,
    "keras.optimizers.experimental": OPTIMIZERS,
}

# Modules whose objects are checked against their own list, not ALLOWED_CLASSES.
MODULE_CLASSES: dict[str, frozenset[str]] = {**OPERATIONS, **KERAS2_MODULES}

# Functions Keras 3 saves as {"module": "builtins", "class_name": "function",
# "config": "mean_squared_error"} (e.g. compile(loss=keras.losses.mean_squared_error));
# the loader looks the name up in Keras's own activations, losses and metrics.
FUNCTION_MODULES = frozenset({"builtins", "keras.activations", "keras.losses", "keras.metrics"})
FUNCTIONS = ACTIVATIONS | frozenset("""
binary_accuracy binary_crossentropy binary_focal_crossentropy categorical_accuracy categorical_crossentropy
categorical_focal_crossentropy categorical_hinge cosine_similarity hinge huber kl_divergence log_cosh
mean_absolute_error mean_absolute_percentage_error mean_squared_error mean_squared_logarithmic_error poisson
sparse_categorical_accuracy sparse_categorical_crossentropy sparse_top_k_categorical_accuracy squared_hinge
top_k_categorical_accuracy mse mae mape msle
""".split())
