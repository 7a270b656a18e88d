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
MARKERS = frozenset({"__keras_tensor__", "__tuple__", "__list__", "__numpy__", "__tensor__",
                     "DTypePolicy", "FloatDTypePolicy", "Policy", "QuantizedDTypePolicy"})

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
