using DeepSharp.Onnx;
using DeepSharp.Onnx.Proto;
using Google.Protobuf;

namespace DeepSharp.Tests.Onnx;

/// <summary>Imported graphs carry sequences and string tensors between nodes and through RunValues, and run Gradient.</summary>
public sealed class OnnxValueKindsTests
{
    private static OnnxModel Build(Action<GraphProto> nodes, string[] inputs, string[] outputs)
    {
        var graph = new GraphProto { Name = "g" };
        foreach (var i in inputs) graph.Input.Add(new ValueInfoProto { Name = i });
        nodes(graph);
        foreach (var o in outputs) graph.Output.Add(new ValueInfoProto { Name = o });
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 17 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "ai.onnx.preview.training", Version = 1 });
        return OnnxModel.Load(model.ToByteArray());
    }

    private static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };

    [Fact]
    public void SplitToSequenceAndBackIsDifferentiable()
    {
        var model = Build(g =>
        {
            g.Node.Add(new NodeProto { OpType = "SplitToSequence", Input = { "x" }, Output = { "s" }, Attribute = { Int("axis", 1), Int("keepdims", 0) } });
            g.Node.Add(new NodeProto { OpType = "SequenceErase", Input = { "s", "pos" }, Output = { "e" } });
            g.Node.Add(new NodeProto { OpType = "ConcatFromSequence", Input = { "e" }, Output = { "y" }, Attribute = { Int("axis", 0), Int("new_axis", 1) } });
            g.Node.Add(new NodeProto { OpType = "SequenceLength", Input = { "e" }, Output = { "n" } });
        }, ["x", "pos"], ["y", "n", "e"]);
        var x = Tensor.From([0f, 1f, 2f, 3f, 4f, 5f], 2, 3).SetRequiresGrad();
        var results = model.RunValues(new Dictionary<string, object> { ["x"] = x, ["pos"] = Tensor.Scalar(-2L, DType.Int64) });
        var y = (Tensor)results["y"];
        Assert.Equal([2, 2], y.ShapeArray);
        Assert.Equal([0f, 3f, 2f, 5f], y.ToArray<float>()); // columns 0 and 2 (column 1 erased), stacked as rows
        Assert.Equal(2L, ((Tensor)results["n"]).Item<long>());
        Assert.Equal(2, Assert.IsAssignableFrom<IReadOnlyList<Tensor>>(results["e"]).Count);
        y.Sum().Backward();
        Assert.Equal([1f, 0f, 1f, 1f, 0f, 1f], x.Grad!.ToArray<float>());
        var e = Assert.Throws<InvalidOperationException>(() => model.Run(new Dictionary<string, Tensor> { ["x"] = x, ["pos"] = Tensor.Scalar(0L, DType.Int64) }));
        Assert.Contains("RunValues", e.Message, StringComparison.Ordinal); // output e is a sequence
        var bad = Assert.Throws<InvalidDataException>(() => model.RunValues(new Dictionary<string, object> { ["x"] = x, ["pos"] = Tensor.Scalar(5L, DType.Int64) }));
        Assert.Contains("SequenceErase node", bad.Message, StringComparison.Ordinal);
        Assert.Contains("position 5 is outside a sequence of 3 tensors", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StringsAreNormalizedAndCastToNumbers()
    {
        var model = Build(g =>
        {
            var stop = new AttributeProto { Name = "stopwords", Type = AttributeProto.Types.AttributeType.Strings };
            stop.Strings.Add(ByteString.CopyFromUtf8("skip"));
            g.Node.Add(new NodeProto { OpType = "StringNormalizer", Input = { "s" }, Output = { "t" }, Attribute = { stop,
                new AttributeProto { Name = "case_change_action", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8("UPPER") } } });
            g.Node.Add(new NodeProto { OpType = "Cast", Input = { "t" }, Output = { "v" }, Attribute = { Int("to", 1) } });
            g.Node.Add(new NodeProto { OpType = "Cast", Input = { "v" }, Output = { "w" }, Attribute = { Int("to", 8) } });
        }, ["s"], ["t", "v", "w"]);
        var results = model.RunValues(new Dictionary<string, object> { ["s"] = new OnnxStringTensor(["1.5", "SKIP", "inf", "-2e3"], [4]) });
        Assert.Equal(["1.5", "INF", "-2E3"], ((OnnxStringTensor)results["t"]).Values);
        Assert.Equal([1.5f, float.PositiveInfinity, -2000f], ((Tensor)results["v"]).ToArray<float>());
        Assert.Equal(["1.5", "INF", "-2000"], ((OnnxStringTensor)results["w"]).Values);
        Assert.Throws<ArgumentException>(() => new OnnxStringTensor(["a"], [2]));
    }

    [Fact]
    public void GradientNodeGivesTheDerivativesOfTheGraph()
    {
        var model = Build(g =>
        {
            g.Node.Add(new NodeProto { OpType = "Mul", Input = { "a", "b" }, Output = { "c" } });
            g.Node.Add(new NodeProto { OpType = "Tanh", Input = { "c" }, Output = { "y" } });
            var xs = new AttributeProto { Name = "xs", Type = AttributeProto.Types.AttributeType.Strings };
            xs.Strings.Add(ByteString.CopyFromUtf8("a"));
            xs.Strings.Add(ByteString.CopyFromUtf8("b"));
            g.Node.Add(new NodeProto { OpType = "Gradient", Domain = "ai.onnx.preview.training", Input = { "a", "b" }, Output = { "da", "db" }, Attribute = { xs,
                new AttributeProto { Name = "y", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8("y") } } });
        }, ["a", "b"], ["y", "da", "db"]);
        var a = Tensor.From([0.5, -1.0], 2);
        var b = Tensor.From([2.0, 0.25], 2);
        IReadOnlyDictionary<string, Tensor> r;
        using (DeepSharp.Autograd.NoGrad()) r = model.Run(new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b });
        double[] av = [0.5, -1.0], bv = [2.0, 0.25];
        for (int i = 0; i < 2; i++)
        {
            double sech2 = 1 - Math.Pow(Math.Tanh(av[i] * bv[i]), 2);
            Assert.Equal(sech2 * bv[i], r["da"].ToArray<double>()[i], 12);
            Assert.Equal(sech2 * av[i], r["db"].ToArray<double>()[i], 12);
        }
        Assert.False(a.RequiresGrad); // the caller's tensors are not turned into leaves
    }

    [Fact]
    public void LoopAndIfRunTheirSubgraphsAndTrainThroughThem()
    {
        // y = w^M * v0 by a Loop whose body reads w from the enclosing graph, then If picks y or -y.
        var body = new GraphProto { Name = "body" };
        foreach (var name in new[] { "i", "c_in", "v_in" }) body.Input.Add(new ValueInfoProto { Name = name });
        body.Node.Add(new NodeProto { OpType = "Identity", Input = { "c_in" }, Output = { "c_out" } });
        body.Node.Add(new NodeProto { OpType = "Mul", Input = { "v_in", "w" }, Output = { "v_out" } });
        body.Node.Add(new NodeProto { OpType = "Cast", Input = { "i" }, Output = { "i_f" }, Attribute = { Int("to", 1) } });
        foreach (var name in new[] { "c_out", "v_out", "i_f" }) body.Output.Add(new ValueInfoProto { Name = name });
        var thenBranch = new GraphProto { Name = "then", Node = { new NodeProto { OpType = "Identity", Input = { "y" }, Output = { "r" } } }, Output = { new ValueInfoProto { Name = "r" } } };
        var elseBranch = new GraphProto { Name = "else", Node = { new NodeProto { OpType = "Neg", Input = { "y" }, Output = { "r2" } } }, Output = { new ValueInfoProto { Name = "r2" } } };
        var graph = new GraphProto { Name = "g" };
        foreach (var name in new[] { "m", "v0", "flag" }) graph.Input.Add(new ValueInfoProto { Name = name });
        graph.Initializer.Add(OnnxTensors.ToProto(Tensor.From([1.5f], 1), "w"));
        graph.Node.Add(new NodeProto { OpType = "Loop", Input = { "m", "", "v0" }, Output = { "y", "steps" },
            Attribute = { new AttributeProto { Name = "body", Type = AttributeProto.Types.AttributeType.Graph, G = body } } });
        graph.Node.Add(new NodeProto { OpType = "If", Input = { "flag" }, Output = { "out" }, Attribute = {
            new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = thenBranch },
            new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = elseBranch } } });
        graph.Output.Add(new ValueInfoProto { Name = "out" });
        graph.Output.Add(new ValueInfoProto { Name = "steps" });
        var proto = new ModelProto { IrVersion = 8, Graph = graph };
        proto.OpsetImport.Add(new OperatorSetIdProto { Version = 17 });
        var model = OnnxModel.Load(proto.ToByteArray());
        var w = Assert.Single(model.Parameters());

        var r = model.Run(new Dictionary<string, Tensor> { ["m"] = Tensor.Scalar(3, DType.Int64), ["v0"] = Tensor.From([2f], 1), ["flag"] = Tensor.Scalar(0, DType.Bool) });
        Assert.Equal(-2 * 1.5f * 1.5f * 1.5f, r["out"].ToArray<float>()[0], 5);
        Assert.Equal([0f, 1f, 2f], r["steps"].ToArray<float>()); // the scan output stacks every iteration's value
        r["out"].Sum().Backward();
        Assert.Equal(-2 * 3 * 1.5f * 1.5f, w.Grad!.ToArray<float>()[0], 4); // d(-2 w^3)/dw through three loop iterations

        var nested = new GraphProto { Name = "bad" };
        nested.Node.Add(new NodeProto { OpType = "FancyOp", Input = { "y" }, Output = { "z" } });
        graph.Node[1].Attribute[0].G = nested;
        var e = Assert.Throws<NotSupportedException>(() => OnnxModel.Load(proto.ToByteArray()));
        Assert.Contains("FancyOp", e.Message, StringComparison.Ordinal); // operators inside subgraphs are checked at load time too
    }
}
