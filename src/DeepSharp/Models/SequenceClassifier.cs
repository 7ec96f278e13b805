using System.Globalization;
using DeepSharp.NN;
using DeepSharp.Onnx;

namespace DeepSharp.Models;

/// <summary>
/// Classifies an image by reading it as a sequence: each row of an [N, C, H, W] image is one time step
/// of C*W features (a 28x28 Fashion-MNIST image is 28 steps of 28 pixels), a GRU (or LSTM) runs over the
/// rows and a linear layer maps its last hidden state to class logits. Keys: <c>rnn.weight_ih_l0</c> ...
/// (nn.GRU/nn.LSTM with batch_first=True), <c>fc.weight</c>, <c>fc.bias</c>. Also takes sequences
/// [N, T, features] directly.
/// </summary>
public sealed class SequenceClassifier : Module<Tensor, Tensor>, IOnnxExportable
{
    /// <summary>A recurrent classifier over sequences of <paramref name="inputFeatures"/> features per step.</summary>
    /// <param name="inputFeatures">Features per time step.</param>
    /// <param name="numClasses">Output logits per example.</param>
    /// <param name="hiddenSize">Hidden units per recurrent layer (default 128).</param>
    /// <param name="numLayers">Stacked recurrent layers (default 1).</param>
    /// <param name="cell">Gru (default) or Lstm.</param>
    /// <param name="dropout">Dropout between recurrent layers (default 0).</param>
    /// <param name="dtype">Parameter dtype (default float32).</param>
    /// <param name="generator">Source of the initial weights and dropout masks; null uses the default generator.</param>
    /// <exception cref="ArgumentException">A size is not positive or the cell is unknown.</exception>
    public SequenceClassifier(int inputFeatures, int numClasses, int hiddenSize = 128, int numLayers = 1, RecurrentCellType cell = RecurrentCellType.Gru,
        double dropout = 0, DType dtype = DType.Float32, Generator? generator = null)
    {
        if (inputFeatures <= 0 || numClasses <= 0 || hiddenSize <= 0 || numLayers <= 0)
            throw new ArgumentException($"SequenceClassifier: input features ({inputFeatures}), classes ({numClasses}), hidden size ({hiddenSize}) and layers ({numLayers}) must be positive");
        InputFeatures = inputFeatures;
        Rnn = RegisterModule<RecurrentBase>("rnn", cell switch
        {
            RecurrentCellType.Gru => new Gru(inputFeatures, hiddenSize, numLayers, batchFirst: true, dropout: dropout, dtype: dtype, generator: generator),
            RecurrentCellType.Lstm => new Lstm(inputFeatures, hiddenSize, numLayers, batchFirst: true, dropout: dropout, dtype: dtype, generator: generator),
            _ => throw RecurrentCellTypeNames.Unknown("SequenceClassifier", cell),
        });
        Rnn.Generator = generator;
        Fc = RegisterModule("fc", new Linear(hiddenSize, numClasses, dtype: dtype, generator: generator));
    }

    /// <summary>
    /// The zoo's "seq-gru": a GRU with <paramref name="hiddenSize"/> units over the rows of
    /// [N, InputChannels, ImageSize, ImageSize] images (InputChannels*ImageSize features per step), then Linear to NumClasses.
    /// </summary>
    public static SequenceClassifier Create(ModelOptions? options = null, int hiddenSize = 128, int numLayers = 1)
    {
        var o = options ?? new ModelOptions();
        if (o.InputChannels <= 0 || o.ImageSize <= 0 || o.NumClasses <= 0)
            throw new ArgumentException($"seq-gru: InputChannels ({o.InputChannels}), ImageSize ({o.ImageSize}) and NumClasses ({o.NumClasses}) must be positive");
        return new SequenceClassifier(o.InputChannels * o.ImageSize, o.NumClasses, hiddenSize, numLayers, RecurrentCellType.Gru, 0, o.DType, o.Generator);
    }

    /// <summary>Features per time step (channels x image width).</summary>
    public int InputFeatures { get; }

    /// <summary>The recurrent stack (batch-first GRU or LSTM; keys <c>rnn.*</c>).</summary>
    public RecurrentBase Rnn { get; }

    /// <summary>Linear layer from the last hidden state to class logits (keys <c>fc.*</c>).</summary>
    public Linear Fc { get; }

    /// <inheritdoc/>
    public override string TypeName => "SequenceClassifier";

    /// <summary>Logits [N, classes] for images [N, C, H, W] (rows as steps) or sequences [N, T, features].</summary>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Tensor sequence;
        if (input.Rank == 4)
        {
            // [N, C, H, W] -> [N, H, C*W]: row h of every channel is step h.
            int n = input.ShapeArray[0], c = input.ShapeArray[1], h = input.ShapeArray[2], w = input.ShapeArray[3];
            sequence = c == 1 ? input.Reshape(n, h, w) : input.Permute(0, 2, 1, 3).Reshape(n, h, c * w);
        }
        else if (input.Rank == 3) sequence = input;
        else throw new ArgumentException($"SequenceClassifier: expected images [N, C, H, W] or sequences [N, T, features], got {Shapes.Format(input.ShapeArray)}");
        if (sequence.ShapeArray[2] != InputFeatures)
            throw new ArgumentException($"SequenceClassifier: each step must have {InputFeatures} features (channels x width), got input {Shapes.Format(input.ShapeArray)}");
        var (_, hN, _) = Rnn.Call(sequence, null);
        return Fc.Call(hN.Select(0, hN.ShapeArray[0] - 1)); // the last layer's final state [N, H]
    }

    OnnxValue IOnnxExportable.ExportOnnx(OnnxGraphBuilder graph, OnnxValue input)
    {
        Forward(input.Sample); // validates the shape with Forward's messages
        var sequence = input;
        if (input.Rank == 4)
        {
            int c = input.Shape[1], h = input.Shape[2], w = input.Shape[3];
            sequence = c == 1 ? graph.Reshape(input, 0, h, w) : graph.Reshape(graph.Transpose(input, 0, 2, 1, 3), 0, h, c * w);
        }
        var (_, hN, _) = graph.Recurrent(Rnn, sequence);
        return graph.Module(Fc, graph.Select(hN, 0, hN.Shape[0] - 1));
    }

    /// <inheritdoc/>
    protected override string ExtraRepr => string.Create(CultureInfo.InvariantCulture, $"steps=rows, features={InputFeatures}");
}
