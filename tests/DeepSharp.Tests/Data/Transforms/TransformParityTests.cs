using System.Text.Json;
using DeepSharp.Data;
using DeepSharp.Tests.Autograd;

namespace DeepSharp.Tests.Data;

/// <summary>
/// The deterministic image operations against torchvision 0.14 on tensors
/// (tests/fixtures/transforms.json, written by scripts/gen_transform_fixtures.py).
/// </summary>
public sealed class TransformParityTests
{
    private static readonly Lazy<Dictionary<string, JsonElement>> s_cases = new(() =>
    {
        var path = Path.Combine(AppContext.BaseDirectory, "fixtures", "transforms.json");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        return doc.RootElement.GetProperty("cases").EnumerateArray().ToDictionary(c => c.GetProperty("id").GetString()!, c => c.Clone());
    });

    /// <summary>Ops that only move or set values: they must match bit for bit.</summary>
    private static readonly HashSet<string> s_exact = ["pad", "crop", "center_crop", "hflip", "vflip", "erase", "to_tensor"];

    public static IEnumerable<object[]> Ids() => s_cases.Value.Keys.Select(k => new object[] { k });

    [Fact]
    public void FixtureCoversEveryOp()
    {
        var ops = s_cases.Value.Values.Select(c => c.GetProperty("op").GetString()!).ToHashSet();
        Assert.Superset(new HashSet<string> { "interpolate", "resize", "resized_crop", "rotate", "affine", "pad", "crop", "center_crop", "hflip", "vflip", "normalize", "erase", "to_tensor" }, ops);
        Assert.True(s_cases.Value.Count >= 30);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void MatchesTorchvision(string id)
    {
        var c = s_cases.Value[id];
        string op = c.GetProperty("op").GetString()!;
        var args = c.GetProperty("args");
        var input = Fixtures.ToTensor(c.GetProperty("input"));
        var expected = Fixtures.ToTensor(c.GetProperty("output"));
        var actual = Run(op, args, input);
        Assert.Equal(expected.Shape.ToArray(), actual.Shape.ToArray());
        Assert.Equal(DType.Float32, actual.DType);
        var e = expected.ToArray<float>();
        var a = actual.ToArray<float>();
        double tol = s_exact.Contains(op) ? 0 : op == "normalize" ? 1e-6 : 2e-5;
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= tol, $"{id}: element {i} is {a[i]}, torchvision gives {e[i]} (tolerance {tol})");
    }

    private static Tensor Run(string op, JsonElement args, Tensor x) => op switch
    {
        "interpolate" => ImageFunctional.Resize(x, Ints(args, "size")[0], Ints(args, "size")[1]),
        "resize" => args.GetProperty("size").ValueKind == JsonValueKind.Number
            ? new Resize(args.GetProperty("size").GetInt32()).Apply(x)
            : new Resize((Ints(args, "size")[0], Ints(args, "size")[1])).Apply(x),
        "resized_crop" => ImageFunctional.ResizedCrop(x, Int(args, "top"), Int(args, "left"), Int(args, "height"), Int(args, "width"),
            Ints(args, "size")[0], Ints(args, "size")[1]),
        "rotate" => ImageFunctional.Rotate(x, args.GetProperty("angle").GetDouble(), Mode(args), Floats(args, "fill"), Center(args)),
        "affine" => ImageFunctional.Affine(x, args.GetProperty("angle").GetDouble(),
            (Doubles(args, "translate")[0], Doubles(args, "translate")[1]), args.GetProperty("scale").GetDouble(),
            (Doubles(args, "shear")[0], Doubles(args, "shear")[1]), Mode(args), Floats(args, "fill"), Center(args)),
        "pad" => ImageFunctional.Pad(x, Pad(Ints(args, "padding")), PadMode(args.GetProperty("mode").GetString()!), args.GetProperty("fill").GetSingle()),
        "crop" => ImageFunctional.Crop(x, Int(args, "top"), Int(args, "left"), Int(args, "height"), Int(args, "width")),
        "center_crop" => new CenterCrop((Ints(args, "size")[0], Ints(args, "size")[1])).Apply(x),
        "hflip" => ImageFunctional.HorizontalFlip(x),
        "vflip" => ImageFunctional.VerticalFlip(x),
        "normalize" => new Normalize(Floats(args, "mean"), Floats(args, "std")).Apply(x),
        "erase" => ImageFunctional.Erase(x, Int(args, "top"), Int(args, "left"), Int(args, "height"), Int(args, "width"), Floats(args, "value")),
        "to_tensor" => new ToTensor().Apply(x),
        _ => throw new InvalidOperationException($"unknown fixture op {op}"),
    };

    private static int Int(JsonElement args, string name) => args.GetProperty(name).GetInt32();

    private static int[] Ints(JsonElement args, string name) => args.GetProperty(name).EnumerateArray().Select(e => e.GetInt32()).ToArray();

    private static double[] Doubles(JsonElement args, string name) => args.GetProperty(name).EnumerateArray().Select(e => e.GetDouble()).ToArray();

    private static float[] Floats(JsonElement args, string name) => args.GetProperty(name).EnumerateArray().Select(e => e.GetSingle()).ToArray();

    private static InterpolationMode Mode(JsonElement args) =>
        args.GetProperty("mode").GetString() == "nearest" ? InterpolationMode.Nearest : InterpolationMode.Bilinear;

    private static (double X, double Y)? Center(JsonElement args) =>
        args.TryGetProperty("center", out var c) ? (c[0].GetDouble(), c[1].GetDouble()) : null;

    private static Padding Pad(int[] p) => p.Length switch
    {
        1 => new Padding(p[0]),
        2 => new Padding(p[0], p[1]),
        _ => new Padding(p[0], p[1], p[2], p[3]),
    };

    private static PaddingMode PadMode(string mode) => mode switch
    {
        "constant" => PaddingMode.Constant,
        "edge" => PaddingMode.Edge,
        "reflect" => PaddingMode.Reflect,
        _ => PaddingMode.Symmetric,
    };
}
