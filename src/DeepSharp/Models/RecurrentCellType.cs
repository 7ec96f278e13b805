using System.Text.Json;
using System.Text.Json.Serialization;

namespace DeepSharp.Models;

/// <summary>
/// The recurrent layer a model is built around (<see cref="CharRnnConfig.Cell"/>, <see cref="Seq2SeqConfig.Cell"/>,
/// <see cref="SequenceClassifier"/>). Model files store it as "lstm" or "gru".
/// </summary>
[JsonConverter(typeof(RecurrentCellTypeJsonConverter))]
public enum RecurrentCellType
{
    /// <summary>Long short-term memory (<see cref="NN.Lstm"/>, <see cref="NN.LstmCell"/>).</summary>
    Lstm,
    /// <summary>Gated recurrent unit (<see cref="NN.Gru"/>, <see cref="NN.GruCell"/>).</summary>
    Gru,
}

/// <summary>The file and zoo spelling of <see cref="RecurrentCellType"/>: "lstm" or "gru".</summary>
internal static class RecurrentCellTypeNames
{
    /// <summary>"lstm" or "gru".</summary>
    public static string ToName(this RecurrentCellType cell) => cell switch
    {
        RecurrentCellType.Lstm => "lstm",
        RecurrentCellType.Gru => "gru",
        _ => throw Unknown("model", cell),
    };

    /// <summary>Parses "lstm" or "gru" (a model file, a zoo name's suffix).</summary>
    public static RecurrentCellType Parse(string? name, string where) => name switch
    {
        "lstm" => RecurrentCellType.Lstm,
        "gru" => RecurrentCellType.Gru,
        _ => throw new InvalidDataException($"{where}: cell must be \"lstm\" or \"gru\", got '{name}'"),
    };

    /// <summary>The error for a value outside the enum (a cast from an int).</summary>
    public static ArgumentOutOfRangeException Unknown(string op, RecurrentCellType cell) =>
        new(nameof(cell), cell, $"{op}: cell must be RecurrentCellType.Lstm or RecurrentCellType.Gru");
}

/// <summary>Writes and reads <see cref="RecurrentCellType"/> as "lstm" / "gru", the spelling of existing model files (attached to the enum; any JSON context that serializes a model configuration picks it up).</summary>
public sealed class RecurrentCellTypeJsonConverter : JsonConverter<RecurrentCellType>
{
    /// <inheritdoc/>
    public override RecurrentCellType Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String
            ? RecurrentCellTypeNames.Parse(reader.GetString(), "model configuration")
            : throw new InvalidDataException($"model configuration: cell must be the string \"lstm\" or \"gru\", got {reader.TokenType}");

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, RecurrentCellType value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToName());
}
