"""Independently worded answers for the corpus's answers.md files.

Every question's answer is cut into slots (one point each); every slot has four versions
written in different words, as four students writing on their own would. A student's answer
takes one version per slot, so two honest students share at most part of an answer, and never
the whole of it. ``PERMUTABLE`` lists the questions whose slots read well in any order.

Written for this corpus: none of it is the reference answer of questions/q*.toml.
"""

from __future__ import annotations

SLOTS: dict[str, list[list[str]]] = {
    "Q1": [
        [
            "A sequence-to-sequence RNN gives an output at every time step, so it suits jobs like "
            "tagging each word of a sentence with its part of speech or forecasting the next value "
            "at every step of a time series.",
            "Seq-to-seq networks map a sequence to a sequence of the same length: labelling each "
            "frame of an audio recording with the phoneme spoken in it, or flagging every heartbeat "
            "of an ECG as normal or abnormal.",
            "Many-to-many RNNs are used when each input step needs its own answer, for instance named "
            "entity recognition (a label per token) or predicting tomorrow's load at each hour of a "
            "smart-meter log.",
            "For sequence to sequence I would pick per-step prediction tasks: speech recognition "
            "at the frame level, subtitling each frame of a video, or a forecast made at every day "
            "of a sales history.",
        ],
        [
            "A sequence-to-vector RNN reads the whole sequence and keeps only its last output, which "
            "is what you want to classify the sentiment of a movie review or the topic of an article.",
            "Seq-to-vec models squash a sequence into one result: detecting spam in an email, naming "
            "the genre of a song clip, or predicting a single next value from a window of past values.",
            "Many-to-one networks output one vector per sequence, e.g. deciding whether a tweet is "
            "positive or negative, or recognising which activity a wearable sensor recording shows.",
            "Sequence to vector fits anything where a whole sequence gets one label or score, like "
            "rating a product review from its text or estimating tomorrow's price from the last "
            "month of prices.",
        ],
        [
            "A vector-to-sequence RNN starts from one vector and unrolls it into a sequence; image "
            "captioning is the classic case, where a CNN encodes the picture and the RNN writes the "
            "caption word by word.",
            "Vec-to-seq networks generate a sequence from a single input, such as composing a melody "
            "from a style vector or producing a playlist from an embedding of the listener's taste.",
            "One-to-many RNNs take a fixed vector (fed once, or repeated at every step) and emit a "
            "sequence, e.g. describing a photo in a sentence from its CNN feature vector.",
            "For vector to sequence: generating text or music from a latent code, or building a list "
            "of recommendations one item at a time from a user profile vector.",
        ],
        [
            "Translation is usually not done with a plain seq-to-seq RNN, because the output words do "
            "not line up with the input words; it chains an encoder (sequence to vector) with a "
            "decoder (vector to sequence).",
            "Machine translation is better seen as an encoder-decoder: one network reads the whole "
            "source sentence into a vector and a second one writes the translation from it.",
            "Note that translating a sentence needs the whole input before the output can start, so "
            "it is built as a seq-to-vec encoder followed by a vec-to-seq decoder.",
            "An encoder-decoder pair (encoder = sequence to vector, decoder = vector to sequence) "
            "handles translation, since the two sentences rarely have the same length or word order.",
        ],
    ],
    "Q2": [
        [
            "An RNN layer needs 3-D inputs of shape [batch size, time steps, features]: the number of "
            "sequences in the batch, the length of each sequence, and how many values are given at "
            "each step.",
            "The input must have three dimensions. Axis 0 indexes the sequences of the mini-batch, "
            "axis 1 the time steps, and axis 2 the features measured at each step.",
            "Recurrent layers take rank-3 tensors: (batch_size, timesteps, input_dim), i.e. samples, "
            "positions in time, and values per position.",
            "Three dimensions are required: first how many sequences are processed together, second "
            "how long each sequence is, and third the dimensionality of each time step.",
        ],
        [
            "The batch dimension is left out of input_shape, and the time dimension can be None so "
            "that sequences of any length are accepted; a univariate series has a single feature.",
            "In Keras you write input_shape=[None, 1] for a univariate series: the batch axis is "
            "implicit and None lets the number of steps vary.",
            "You do not give the batch size when declaring the input, and using None for the time "
            "axis lets the same layer handle short and long sequences; one variable means one feature.",
            "A daily temperature series is univariate, so its last axis is 1, while the time axis "
            "may be None because nothing in the layer depends on the sequence length.",
        ],
        [
            "With return_sequences=True the output is also 3-D, [batch size, time steps, units], "
            "one output vector per step, which another recurrent layer can take as input.",
            "If the layer returns sequences it emits its output at every step, giving a tensor of "
            "shape (batch, timesteps, units) where units is the number of neurons.",
            "Setting return_sequences=True keeps the time axis: the result has shape [batch, steps, "
            "number of units], needed when stacking RNN layers or predicting at each step.",
            "When all steps are returned the output is three-dimensional (batch x time x units), "
            "e.g. a GRU with 16 units turns a (4, 30, 2) input into (4, 30, 16).",
        ],
        [
            "By default (return_sequences=False) only the last step's output is returned, so the "
            "output is 2-D: [batch size, units].",
            "Without return_sequences the time axis disappears and you get a (batch, units) matrix, "
            "the final output of each sequence, ready for a Dense layer.",
            "The default output is two-dimensional: one row per sequence holding the last output, "
            "so an LSTM(20) on a [32, 50, 1] batch gives [32, 20].",
            "Left at its default, the layer outputs just the final time step, shape [batch, units], "
            "which summarises each sequence.",
        ],
    ],
    "Q3": [
        [
            "A recurrent layer expects a sequence (a 3-D input), so any recurrent layer feeding "
            "another recurrent layer has to return its full output sequence.",
            "Since every RNN layer consumes 3-D [batch, time, features] tensors, the layers below "
            "another RNN layer must output all their time steps, not only the last one.",
            "The rule comes from shapes: an RNN layer without return_sequences outputs 2-D data, "
            "which the next recurrent layer cannot read as a sequence.",
            "Stacked recurrent layers only work when each lower layer passes on its output at every "
            "step, because the layer above needs a sequence as input.",
        ],
        [
            "In a deep sequence-to-sequence RNN every recurrent layer needs return_sequences=True, "
            "including the top one, because the model has to output something at each time step.",
            "For seq-to-seq, set return_sequences=True on all recurrent layers: the lower ones to "
            "feed the layers above, the last one so that there is an output per step.",
            "Sequence to sequence: all of them, the final RNN layer too, since the predictions are "
            "made at every step of the sequence.",
            "Every recurrent layer of a deep seq2seq model returns sequences; the output layer then "
            "works on each time step.",
        ],
        [
            "In a sequence-to-vector RNN, all recurrent layers except the last one return sequences; "
            "the top layer keeps the default and outputs only its final step.",
            "For seq-to-vec, every layer but the top recurrent one gets return_sequences=True, and "
            "the top one stays at False so it yields a single vector per sequence.",
            "Sequence to vector: all but the final recurrent layer, which must leave "
            "return_sequences at False to produce one output for the whole sequence.",
            "A deep seq2vec network sets return_sequences=True on the lower recurrent layers only; "
            "the last recurrent layer returns just its last output.",
        ],
        [
            "For example, LSTM(32, return_sequences=True), LSTM(32, return_sequences=True), "
            "Dense(1) is seq-to-seq, while LSTM(32, return_sequences=True), LSTM(32), Dense(1) is "
            "seq-to-vec.",
            "A Dense layer on top of a 3-D output is applied to every time step, which is why it "
            "can follow the last recurrent layer of a seq2seq stack.",
            "E.g. GRU(20, return_sequences=True) -> GRU(20) -> Dense(10) gives one 10-value vector "
            "per sequence.",
            "So in a two-layer seq2vec model only the first layer returns sequences, and in a "
            "two-layer seq2seq model both do.",
        ],
    ],
    "Q4": [
        [
            "I would use a sequence-to-vector RNN that outputs the seven days at once: a recurrent "
            "layer or two followed by a Dense layer with 7 units.",
            "A seq-to-vec model works well: it reads a window of past days and its Dense(7) output "
            "layer gives the forecast for each of the next seven days.",
            "The simplest choice is an RNN whose last layer returns only its final state, with a "
            "7-unit dense head predicting days t+1 to t+7 in one shot.",
            "Predict all 7 values together with a sequence-to-vector network (GRU or LSTM layers, "
            "then Dense(7)) rather than one day at a time.",
        ],
        [
            "The inputs are windows of the last N days with shape [batch, N, 1], since the series "
            "has one value per day, and the targets are the 7 values that follow each window.",
            "Train it on windows cut from the series (say 8 weeks long) with one feature per step, "
            "using an MSE or Huber loss against the next 7 days.",
            "Each training example is a window of past values shaped (window_length, 1) and its "
            "label is the vector of the following seven values.",
            "Slice the history into fixed-length windows, with a single feature per time step "
            "because the series is univariate, and pair each one with the next week's values.",
        ],
        [
            "A seq-to-seq version, where every step predicts the following 7 days, gives the loss "
            "many more targets and usually trains faster; at inference you keep the last step.",
            "It can be improved by making it sequence-to-sequence: each time step forecasts the next "
            "seven values, so the gradients come from every step and not only from the end.",
            "Another option is to return sequences and forecast 7 days at every step during training, "
            "which stabilises training, then use only the final step's forecast.",
            "Training it as a many-to-many model (a 7-day forecast at each step) gives more signal per "
            "window, and the forecast you use is the one at the last step.",
        ],
        [
            "Forecasting one day and feeding it back seven times also works, but errors accumulate "
            "from one day to the next.",
            "An encoder-decoder is possible but heavier, and not needed for a horizon of only seven days.",
            "Predicting day by day autoregressively is simpler to write but compounds its mistakes, "
            "so the direct 7-output head is preferable.",
            "I would avoid the recursive approach (predict one step, append it, repeat) because each "
            "predicted value carries the previous errors forward.",
        ],
    ],
    "Q5": [
        [
            "The first difficulty is unstable gradients: an RNN unrolled over many steps is a very "
            "deep network sharing the same weights, so gradients can vanish or explode during "
            "backpropagation through time.",
            "Training uses backpropagation through time, and because the same weights multiply the "
            "signal at every step, gradients tend to shrink to nothing or blow up.",
            "RNNs suffer from vanishing and exploding gradients, since the unrolled network is as deep "
            "as the sequence is long.",
            "Gradients are unstable: repeated multiplication by the recurrent weights over many time "
            "steps makes them either fade away or grow without bound.",
        ],
        [
            "Remedies are gradient clipping (clipnorm or clipvalue), Layer Normalization between or "
            "inside the recurrent layers, a saturating activation such as tanh, good initialisation "
            "and a smaller learning rate.",
            "To handle it, clip the gradients in the optimizer, add Layer Normalization (batch norm "
            "does not work well across time steps), keep tanh rather than ReLU, and lower the "
            "learning rate.",
            "Clipping gradients, normalising each time step with LayerNormalization, avoiding "
            "non-saturating activations and using dropout or recurrent_dropout all help.",
            "Useful fixes: set clipnorm=1.0 on the optimizer, insert LayerNormalization layers, stay "
            "with the default tanh activation, and initialise the weights carefully.",
        ],
        [
            "The second difficulty is a short memory: the state is transformed at every step, so "
            "information from the beginning of a long sequence fades away.",
            "A simple RNN also forgets quickly, and after a few dozen steps it has lost most of the "
            "early inputs.",
            "Long-term dependencies are hard to learn because a basic RNN's memory of distant steps "
            "is very limited.",
            "Another problem is the limited short-term memory: early time steps have almost no effect "
            "on the output once the sequence is long.",
        ],
        [
            "For that, use gated cells (LSTM or GRU), shorten the sequences with 1D convolutions, or "
            "switch to attention-based models for very long contexts.",
            "LSTM and GRU cells learn what to keep and what to forget, and Conv1D or pooling layers "
            "reduce the number of steps the RNN must remember.",
            "Gated units like LSTM and GRU fix much of it, and strided convolutions or WaveNet-style "
            "dilated convolutions shorten what the recurrent part has to cover.",
            "The answer is usually to replace SimpleRNN with LSTM or GRU layers and to downsample the "
            "sequence with convolutional layers before the recurrent ones.",
        ],
    ],
    "Q6": [
        [
            "An LSTM cell keeps two states: a short-term state h(t), which is also its output, and a "
            "long-term cell state c(t).",
            "The cell carries a hidden state h and a cell state c from one step to the next; h is the "
            "output and c is the long-term memory.",
            "Two vectors flow through time in an LSTM: the long-term memory c(t) and the short-term "
            "state h(t) that doubles as the output y(t).",
            "Compared with a simple RNN cell, an LSTM has an extra state: besides h(t) it keeps a "
            "memory cell c(t).",
        ],
        [
            "The input x(t) and h(t-1) feed four dense layers: a candidate g(t) with tanh, and three "
            "sigmoid gates, forget f(t), input i(t) and output o(t), each between 0 and 1.",
            "From x(t) and h(t-1) the cell computes four things: the forget gate (what to erase from "
            "c), the input gate (what to add), the candidate values (tanh) and the output gate.",
            "Four fully connected layers read the current input and previous short-term state; three "
            "of them are logistic gates (forget, input, output) and one proposes new content with tanh.",
            "Gates are sigmoid layers multiplied element-wise with a vector: the forget gate controls "
            "c(t-1), the input gate controls the tanh candidate g(t), the output gate controls what "
            "is read out.",
        ],
        [
            "In equations: i = sigmoid(Wxi x + Whi h + bi), f = sigmoid(Wxf x + Whf h + bf), "
            "g = tanh(Wxg x + Whg h + bg), o = sigmoid(Wxo x + Who h + bo), then "
            "c(t) = f * c(t-1) + i * g and h(t) = o * tanh(c(t)).",
            "The new cell state is c(t) = f(t) x c(t-1) + i(t) x g(t) (element-wise products) and the "
            "new output is h(t) = o(t) x tanh(c(t)).",
            "Update rule: forget part of the old memory, add the gated candidate, c_t = f_t*c_{t-1} + "
            "i_t*g_t; then h_t = o_t*tanh(c_t), with every gate computed as sigmoid(W x_t + U h_{t-1} + b).",
            "c(t) is the old cell state scaled by the forget gate plus the candidate scaled by the "
            "input gate, and h(t) is tanh(c(t)) scaled by the output gate.",
        ],
        [
            "Because c(t) changes only through a multiplication and an addition, gradients can flow "
            "across many steps, which is why LSTMs remember long-term patterns.",
            "In Keras the four weight blocks are concatenated in the order i, f, c, o: the kernel is "
            "(inputs, 4*units), the recurrent kernel (units, 4*units) and the bias (4*units,).",
            "The cell state path has no squashing nonlinearity in it, so information can travel a "
            "long way without vanishing.",
            "Keras stores all gates in one kernel and one recurrent kernel with 4*units columns, "
            "in gate order input, forget, cell candidate, output.",
        ],
    ],
    "Q7": [
        [
            "A Conv1D layer slides small filters along the time axis and detects local patterns, with "
            "the same weights at every position.",
            "1D convolutions learn short local features (a few consecutive steps) that are recognised "
            "wherever they occur in the sequence.",
            "Convolutional layers pick up local motifs in the sequence with very few parameters "
            "because the filters are shared across time.",
            "Each filter of a 1D convolution looks at a small window of neighbouring time steps, so "
            "the layer extracts local patterns before the RNN sees the data.",
        ],
        [
            "With a stride of 2 or more (or pooling) the convolution shortens the sequence, so the "
            "RNN has fewer steps to remember and to backpropagate through.",
            "Strided convolutions downsample the time axis, which lets the recurrent layers detect "
            "longer-term patterns and makes gradients more stable.",
            "They can reduce the sequence length, e.g. kernel_size=4 and strides=2 roughly halve it, "
            "which helps the short memory of the RNN.",
            "Downsampling with a strided Conv1D gives the recurrent part shorter, more informative "
            "sequences.",
        ],
        [
            "Convolutions keep no state between steps, so they run in parallel and are much faster "
            "to train than recurrent layers.",
            "Unlike an RNN, a Conv1D layer processes all positions at once, which speeds up training.",
            "They are cheap and parallel: nothing has to be computed step after step.",
            "Since there is no recurrence, a convolution computes all its outputs simultaneously.",
        ],
        [
            "Stacking causal convolutions with dilation rates 1, 2, 4, 8 (as in WaveNet) grows the "
            "receptive field exponentially and can even replace the RNN.",
            "WaveNet-style dilated causal convolutions cover very long contexts with only a few layers.",
            "With causal padding and doubling dilation rates, a small stack of Conv1D layers sees "
            "thousands of steps back.",
            "A WaveNet architecture uses only dilated 1D convolutions and handles very long sequences.",
        ],
    ],
    "Q8": [
        [
            "A common design applies a CNN to each frame (TimeDistributed in Keras) to get one "
            "feature vector per frame, then a sequence-to-vector LSTM or GRU, then a Dense softmax "
            "layer with one unit per class.",
            "Process every frame with the same convolutional network, feed the sequence of frame "
            "features to a recurrent layer that returns only its last output, and finish with softmax.",
            "CNN + RNN: the convolutional part understands each image, the recurrent part models how "
            "the frames change, and a softmax output gives the class probabilities.",
            "Wrap a Conv2D feature extractor in TimeDistributed, then use a GRU that outputs one "
            "vector for the whole clip, and a softmax classifier on top.",
        ],
        [
            "The per-frame CNN is often a pretrained image model such as a ResNet, without its top, "
            "frozen at first.",
            "Using a pretrained network (e.g. EfficientNet) as the frame encoder saves a lot of "
            "training data.",
            "Transfer learning helps: take an ImageNet model as the frame feature extractor and only "
            "train the recurrent part and the classifier.",
            "Instead of training the CNN from scratch you can reuse a pretrained one for the frames.",
        ],
        [
            "Another option is 3D convolutions (Conv3D), which convolve over time as well as height "
            "and width and learn motion directly.",
            "3-D CNNs treat the clip as a volume and extract spatio-temporal features, followed by "
            "pooling and a softmax layer.",
            "Conv3D layers slide their filters across frames too, so they capture movement without "
            "any recurrent layer.",
            "You can also use spatio-temporal convolutions (Conv3D, or a 2D spatial plus 1D temporal "
            "convolution).",
        ],
        [
            "ConvLSTM layers, which replace the matrix products of an LSTM by convolutions, or video "
            "transformers such as TimeSformer are further choices.",
            "Video transformers (ViViT, TimeSformer) apply attention over space-time patches and are "
            "among the most accurate models.",
            "A ConvLSTM2D layer keeps the spatial structure of the frames while modelling time.",
            "Attention-based video transformers and ConvLSTM networks are alternatives to CNN + RNN.",
        ],
    ],
}

PERMUTABLE = {"Q1": (0, 1, 2), "Q7": (0, 1, 2, 3), "Q8": (2, 3)}
"""Per question, the slots a student may put in any order (the others keep their place)."""

# Per-student writing habits: (phrase, alternatives); a student picks one alternative per phrase.
HABITS: list[tuple[str, tuple[str, ...]]] = [
    ("for example", ("for example", "for instance", "e.g.")),
    ("For example", ("For example", "For instance", "E.g.")),
    ("time steps", ("time steps", "timesteps", "time-steps")),
    ("do not", ("do not", "don't")),
    ("does not", ("does not", "doesn't")),
    ("LSTM or GRU", ("LSTM or GRU", "GRU or LSTM")),
    ("initialisation", ("initialisation", "initialization")),
    ("normalising", ("normalising", "normalizing")),
    ("recognising", ("recognising", "recognizing")),
    ("summarises", ("summarises", "summarizes")),
    ("sequence-to-sequence", ("sequence-to-sequence", "sequence to sequence", "seq2seq")),
    ("sequence-to-vector", ("sequence-to-vector", "sequence to vector", "seq2vec")),
    ("vector-to-sequence", ("vector-to-sequence", "vector to sequence", "vec2seq")),
    ("recurrent layer", ("recurrent layer", "RNN layer")),
    ("recurrent layers", ("recurrent layers", "RNN layers")),
    ("e.g.", ("e.g.", "for example", "eg")),
    ("can", ("can", "may")),
    ("usually", ("usually", "normally", "generally")),
    ("every step", ("every step", "each step", "every time step")),
    ("the model", ("the model", "the network")),
    ("so that", ("so that", "so")),
    ("network", ("network", "net")),
    ("stabilises", ("stabilises", "stabilizes")),
]

# A copier's light paraphrase: synonyms the copier swaps in.
SYNONYMS: list[tuple[str, str]] = [
    ("for example", "say"),
    ("such as", "like"),
    ("because", "since"),
    ("usually", "typically"),
    ("often", "frequently"),
    ("whole", "entire"),
    ("only", "just"),
    ("simplest", "easiest"),
    ("very", "really"),
    ("fast", "quick"),
    ("helps", "is useful"),
    ("gives", "yields"),
    ("needs", "requires"),
    ("common", "popular"),
    ("small", "little"),
    ("learn", "pick up"),
    ("works well", "does the job"),
]
