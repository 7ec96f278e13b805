using DeepSharp.Models;
using DeepSharp.NN;
using DeepSharp.Tests.Autograd;

namespace DeepSharp.Tests.NN;

public sealed class ModuleTests
{
    /// <summary>A module with its own parameter, a persistent and a non-persistent buffer, and children.</summary>
    private sealed class Block : Module<Tensor, Tensor>
    {
        public Block()
        {
            Scale = RegisterParameter("scale", Tensor.Ones([3]));
            RegisterBuffer("running_mean", Tensor.Zeros([3]));
            RegisterBuffer("cache", Tensor.Zeros([2]), persistent: false);
            RegisterBuffer("absent", null);
            RegisterBuffer("steps", Tensor.Zeros([], DType.Int64));
            Fc1 = RegisterModule("fc1", new Linear(3, 4));
            Head = RegisterModule("head", new Sequential(new Relu(), new Linear(4, 2)));
        }

        public Tensor Scale { get; }

        public Linear Fc1 { get; }

        public Sequential Head { get; }

        public override Tensor Forward(Tensor input) => Head.Call(Fc1.Call(input * Scale));
    }

    [Fact]
    public void StateDictUsesPyTorchNamesAndOrder()
    {
        var keys = new Block().StateDict().Keys.ToArray();
        Assert.Equal(["scale", "running_mean", "steps", "fc1.weight", "fc1.bias", "head.1.weight", "head.1.bias"], keys);
    }

    [Fact]
    public void TraversalFollowsPyTorch()
    {
        var b = new Block();
        Assert.Equal(["scale", "fc1.weight", "fc1.bias", "head.1.weight", "head.1.bias"], b.NamedParameters().Select(p => p.Name));
        Assert.Equal(["running_mean", "cache", "steps"], b.NamedBuffers().Select(p => p.Name));
        Assert.Equal(["", "fc1", "head", "head.0", "head.1"], b.NamedModules().Select(m => m.Name));
        Assert.Equal([b.Fc1, (Module)b.Head], b.Children());
        Assert.Equal(3 + 12 + 4 + 8 + 2, b.ParameterCount);
        Assert.All(b.Parameters(), p => Assert.True(p.RequiresGrad));
    }

    [Fact]
    public void MlpStateDictMatchesPyTorchSequential()
    {
        foreach (var name in new[] { "mlp", "softmax", "logreg" })
        {
            var expected = NNFixtures.Models.GetProperty(name);
            var state = ModelZoo.Create(name).StateDict();
            var keys = expected.GetProperty("state").EnumerateArray().Select(e => e.GetProperty("key").GetString()!).ToArray();
            Assert.Equal(keys, state.Keys.ToArray());
            foreach (var e in expected.GetProperty("state").EnumerateArray())
                Assert.Equal(e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()).ToArray(), state[e.GetProperty("key").GetString()!].Shape.ToArray());
            Assert.Equal(expected.GetProperty("parameters").GetInt64(), ModelZoo.Create(name).ParameterCount);
        }
    }

    [Fact]
    public void SharedParametersAndModulesAreListedOnce()
    {
        var shared = new Linear(2, 2);
        var seq = new Sequential(shared, new Relu(), shared);
        Assert.Equal(["0.weight", "0.bias"], seq.NamedParameters().Select(p => p.Name));
        Assert.Equal(6, seq.ParameterCount);
        // The state dict keeps every path, as PyTorch's.
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias"], seq.StateDict().Keys);
    }

    [Fact]
    public void StateDictValuesShareStorageButAreDetached()
    {
        var lin = new Linear(2, 3);
        var w = lin.StateDict()["weight"];
        Assert.False(w.RequiresGrad);
        using (DeepSharp.Autograd.NoGrad()) lin.Weight.Fill(7);
        Assert.All(w.ToArray<float>(), v => Assert.Equal(7f, v));
    }

    [Fact]
    public void LoadStateDictCopiesInPlaceAndConvertsDType()
    {
        var src = new Block();
        var dst = new Block();
        var weight = dst.Fc1.Weight;
        var state = src.StateDict().ToDictionary(kv => kv.Key, kv => kv.Key == "steps" ? kv.Value : kv.Value.To(DType.Float64));
        var result = dst.LoadStateDict(state);
        Assert.Empty(result.MissingKeys);
        Assert.Empty(result.UnexpectedKeys);
        Assert.Same(weight, dst.Fc1.Weight);
        Assert.Equal(DType.Float32, dst.Fc1.Weight.DType);
        Assert.Equal(src.Fc1.Weight.ToArray<float>(), dst.Fc1.Weight.ToArray<float>());
        Assert.True(dst.Fc1.Weight.RequiresGrad);
        Assert.True(dst.Fc1.Weight.IsLeaf);
    }

    [Fact]
    public void LoadStateDictStrictReportsMissingUnexpectedAndShapeErrorsWithoutChangingTheModel()
    {
        var m = new Sequential(new Linear(4, 3), new Relu(), new Linear(3, 2));
        var before = m[0].StateDict()["weight"].Clone();
        var state = new Sequential(new Linear(4, 3), new Relu(), new Linear(3, 2)).StateDict();
        state.Remove("2.bias");
        state["extra.weight"] = Tensor.Zeros(1);
        var ex = Assert.Throws<ArgumentException>(() => m.LoadStateDict(state));
        Assert.Contains("Missing key(s) in state_dict: \"2.bias\"", ex.Message);
        Assert.Contains("Unexpected key(s) in state_dict: \"extra.weight\"", ex.Message);
        Assert.Equal(before.ToArray<float>(), m[0].StateDict()["weight"].ToArray<float>());

        var nonStrict = m.LoadStateDict(state, strict: false);
        Assert.Equal(["2.bias"], nonStrict.MissingKeys);
        Assert.Equal(["extra.weight"], nonStrict.UnexpectedKeys);
        Assert.Equal(state["0.weight"].ToArray<float>(), m[0].StateDict()["weight"].ToArray<float>());

        var wrongShape = new Sequential(new Linear(5, 3), new Relu(), new Linear(3, 2)).StateDict();
        var shapeError = Assert.Throws<ArgumentException>(() => m.LoadStateDict(wrongShape, strict: false));
        Assert.Contains("size mismatch for 0.weight", shapeError.Message);
        Assert.Contains("[3, 5]", shapeError.Message);
        Assert.Contains("[3, 4]", shapeError.Message);
    }

    [Fact]
    public void ToFloat64ConvertsInPlaceKeepingIdentity()
    {
        var b = new Block();
        var parameters = b.Parameters().ToArray();
        var buffers = b.Buffers().ToArray();
        var values = b.Fc1.Weight.ToArray<float>();
        b.To(DType.Float64);
        Assert.Equal(parameters, b.Parameters().ToArray());
        Assert.Equal(buffers, b.Buffers().ToArray());
        Assert.All(parameters, p => Assert.Equal(DType.Float64, p.DType));
        Assert.All(parameters, p => Assert.True(p.RequiresGrad));
        Assert.Equal(DType.Int64, b.StateDict()["steps"].DType);        // integer buffers stay integer
        Assert.Equal(DType.Float64, b.StateDict()["running_mean"].DType);
        Assert.Equal(values.Select(v => (double)v), b.Fc1.Weight.ToArray<double>());
        // The converted module runs and trains in float64.
        var loss = b.Call(Tensor.Ones([2, 3], DType.Float64)).Sum();
        loss.Backward();
        Assert.Equal(DType.Float64, b.Fc1.Weight.Grad!.DType);
    }

    [Fact]
    public void TrainAndEvalToggleDropoutRecursively()
    {
        var drop = new Dropout(0.5, new Generator(1));
        var m = new Sequential(new Linear(4, 4), drop);
        Assert.True(m.Training && drop.Training);
        var x = Tensor.Ones([8, 4]);
        var lin = m[0].Call(x);
        m.Eval();
        Assert.False(drop.Training);
        Assert.Equal(lin.ToArray<float>(), m.Call(x).ToArray<float>());
        m.Train();
        Assert.True(drop.Training);
        Assert.Contains(0f, m.Call(x).ToArray<float>());
    }

    [Fact]
    public void ZeroGradSetsGradientsToNull()
    {
        var m = new Linear(3, 2);
        m.Call(Tensor.Ones([1, 3])).Sum().Backward();
        Assert.NotNull(m.Weight.Grad);
        m.ZeroGrad();
        Assert.All(m.Parameters(), p => Assert.Null(p.Grad));
    }

    [Fact]
    public void ForwardHooksFireForEveryLayerAndCanBeRemoved()
    {
        var m = new Sequential(new Linear(3, 4), new Relu(), new Linear(4, 2));
        var calls = new List<string>();
        var handles = m.NamedModules().Select(nm => nm.Module.RegisterForwardHook((mod, input, output) =>
            calls.Add($"{nm.Name}:{mod.TypeName}:{Shapes.Format(((Tensor)output!).ShapeArray)}"))).ToList();
        Tensor? seenInput = null;
        using var typed = ((Linear)m[0]).RegisterForwardHook((Module<Tensor, Tensor> _, Tensor input, Tensor _) => seenInput = input);
        var x = Tensor.Ones([5, 3]);
        m.Call(x);
        Assert.Equal(["0:Linear:[5, 4]", "1:ReLU:[5, 4]", "2:Linear:[5, 2]", ":Sequential:[5, 2]"], calls);
        Assert.Same(x, seenInput);
        foreach (var h in handles) h.Dispose();
        calls.Clear();
        m.Call(x);
        Assert.Empty(calls);
    }

    [Fact]
    public void ForwardPreHookSeesTheInput()
    {
        var m = new Relu();
        object? seen = null;
        using (m.RegisterForwardPreHook((_, input) => seen = input))
        {
            var x = Tensor.Ones(2);
            m.Call(x);
            Assert.Same(x, seen);
        }
    }

    [Fact]
    public void BackwardHookReceivesTheGradientOfTheOutput()
    {
        var fc = new Linear(3, 2);
        var m = new Sequential(fc, new Tanh());
        Tensor? gradOut = null;
        using var h = fc.RegisterBackwardHook((_, g) => gradOut = g.Clone());
        var x = Tensor.Randn([4, 3], new Generator(3));
        var z = m[0].Call(x);
        var y = z.Tanh();
        y.Sum().Backward();
        var expected = 1 - y.Detach() * y.Detach();   // d sum(tanh z) / dz
        Assert.NotNull(gradOut);
        DeepSharp.Tests.Autograd.OpParityTests.AssertClose(expected, gradOut!, 1e-6, 1e-7, "backward hook gradient");

        // Identity passing a leaf through: the hook still sees the gradient, once per call.
        var id = new Identity();
        int count = 0;
        using var h2 = id.RegisterBackwardHook((_, _) => count++);
        var leaf = Tensor.Ones([2], DType.Float32, requiresGrad: true);
        (id.Call(leaf) * 3).Sum().Backward();
        (id.Call(leaf) * 3).Sum().Backward();
        Assert.Equal(2, count);
        Assert.Equal([6f, 6f], leaf.Grad!.ToArray<float>());
    }

    [Fact]
    public void EveryMultiArgumentCallRunsTheSameHookSequence()
    {
        // Each Call overload with extra arguments runs pre-hooks (seeing the first argument), Forward with all the
        // arguments, forward hooks (seeing that output), and backward hooks only when the output is a Tensor.
        var g = new Generator(5);
        var x = Tensor.Randn([2, 3], g, requiresGrad: true);
        var h = Tensor.Randn([2, 4], g);
        var c = Tensor.Randn([2, 4], g);
        var seq = Tensor.Randn([5, 2, 3], g);
        var h0 = Tensor.Randn([1, 2, 4], g);
        var q = Tensor.Randn([2, 3, 4], g, requiresGrad: true);
        var keys = Tensor.Randn([2, 5, 4], g);
        var mask = Tensor.Zeros([3, 3]);
        var target = Tensor.Randn([2, 3], g);
        var rnnCell = new RnnCell(3, 4, generator: g);
        var gruCell = new GruCell(3, 4, generator: g);
        var lstmCell = new LstmCell(3, 4, generator: g);
        var lstm = new Lstm(3, 4, generator: g);
        var luong = new LuongAttention(LuongScore.Dot, 4, 4);
        var mha = new MultiheadAttention(4, 2, batchFirst: true, generator: g);
        var encoder = new TransformerEncoderLayer(4, 2, 8, dropout: 0, batchFirst: true, generator: g);
        var mse = new MseLoss();
        var cases = new (Module Module, Tensor Input, Func<object> Call, Func<object> Forward, Func<object, Tensor> First, bool TensorOutput)[]
        {
            (rnnCell, x, () => rnnCell.Call(x, h), () => rnnCell.Forward(x, h), o => (Tensor)o, true),
            (gruCell, x, () => gruCell.Call(x, h), () => gruCell.Forward(x, h), o => (Tensor)o, true),
            (lstmCell, x, () => lstmCell.Call(x, h, c), () => lstmCell.Forward(x, h, c), o => (((Tensor H, Tensor C))o).H, false),
            (lstm, seq, () => lstm.Call(seq, h0, h0), () => lstm.Forward(seq, h0, h0), o => ((RecurrentOutput)o).Output, false),
            (luong, q, () => luong.Call(q, keys, keys, null), () => luong.Forward(q, keys, keys, null), o => ((AttentionOutput)o).Output, false),
            (mha, q, () => mha.Call(q, q, q, needWeights: false), () => mha.Forward(q, q, q, needWeights: false), o => ((AttentionOutput)o).Output, false),
            (encoder, q, () => encoder.Call(q, mask), () => encoder.Forward(q, mask), o => (Tensor)o, true),
            (mse, x, () => mse.Call(x, target), () => mse.Forward(x, target), o => (Tensor)o, true),
        };
        foreach (var (module, input, call, forward, first, tensorOutput) in cases)
        {
            string name = module.TypeName;
            var events = new List<string>();
            object? preInput = null, hookInput = null, hookOutput = null;
            using var pre = module.RegisterForwardPreHook((_, i) => { events.Add("pre"); preInput = i; });
            using var post = module.RegisterForwardHook((_, i, o) => { events.Add("forward"); hookInput = i; hookOutput = o; });
            using var back = module.RegisterBackwardHook((_, _) => events.Add("backward"));
            var output = call();
            Assert.Equal(["pre", "forward"], events);
            if (module is Loss) Assert.True(Equals((x, target), preInput)); // a loss's hooks see the (input, target) pair
            else Assert.Same(input, preInput);
            Assert.True(Equals(preInput, hookInput), $"{name}: both hooks see the same input");
            Assert.True(Equals(output, hookOutput), $"{name}: the forward hook sees the output Call returns");
            var expected = forward(); // Forward alone runs no hook
            Assert.Equal(["pre", "forward"], events);
            OpParityTests.AssertClose(first(expected), first(output), 1e-6, 1e-7, $"{name}: Call and Forward agree");
            first(output).Sum().Backward();
            Assert.Equal(tensorOutput ? ["pre", "forward", "backward"] : ["pre", "forward"], events);
        }
    }

    [Fact]
    public void SummaryListsLayersShapesAndParameterCounts()
    {
        var mlp = ModelZoo.Create("mlp");
        mlp.Train();
        string s = mlp.Summary([1, 784]);
        Assert.Contains("Total params: 235,146", s);
        Assert.Contains("Trainable params: 235,146", s);
        Assert.Contains("Non-trainable params: 0", s);
        var lines = s.Split('\n');
        Assert.Contains(lines, l => l.Contains("0 (Linear)") && l.Contains("[1, 256]") && l.TrimEnd().EndsWith("200,960", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("2 (Linear)") && l.Contains("[1, 128]") && l.TrimEnd().EndsWith("32,896", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("4 (Linear)") && l.Contains("[1, 10]") && l.TrimEnd().EndsWith("1,290", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("1 (ReLU)") && l.TrimEnd().EndsWith("--", StringComparison.Ordinal));
        Assert.True(mlp.Training);                                     // mode restored
        Assert.All(mlp.Parameters(), p => Assert.Null(p.Grad));        // nothing recorded

        var frozen = new Linear(2, 3);
        frozen.Weight.RequiresGrad = false;
        Assert.Contains("Non-trainable params: 6", frozen.Summary([1, 2]));
    }

    [Fact]
    public void ToStringLooksLikePyTorch()
    {
        var m = new Sequential(new Linear(784, 10), new Relu(), new Dropout(0.25));
        Assert.Equal("Sequential(\n  (0): Linear(in_features=784, out_features=10, bias=True)\n  (1): ReLU()\n  (2): Dropout(p=0.25, inplace=False)\n)", m.ToString());
    }

    private sealed class BadNames : Module
    {
        public void Param(string name) => RegisterParameter(name, Tensor.Zeros(1));

        public void Buffer(string name) => RegisterBuffer(name, Tensor.Zeros(1));

        public void IntParam() => RegisterParameter("i", Tensor.Zeros([1], DType.Int64));
    }

    [Fact]
    public void RegistrationRejectsBadNamesAndTypes()
    {
        var m = new BadNames();
        Assert.Contains("must not contain '.'", Assert.Throws<ArgumentException>(() => m.Param("a.b")).Message);
        Assert.Throws<ArgumentException>(() => m.Param(""));
        m.Param("w");
        Assert.Contains("already registered", Assert.Throws<ArgumentException>(() => m.Buffer("w")).Message);
        Assert.Contains("float32 or float64", Assert.Throws<ArgumentException>(m.IntParam).Message);
        Assert.Contains("has no forward", Assert.Throws<InvalidOperationException>(() => m.Summary([1])).Message);
    }

    [Fact]
    public void ContainersIndexAndName()
    {
        var list = new ModuleList<Linear>(new Linear(1, 2), new Linear(2, 3));
        list.Add(new Linear(3, 4));
        Assert.Equal(3, list.Count);
        Assert.Equal(4, list[2].OutFeatures);
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"], list.StateDict().Keys);

        var dict = new ModuleDict().Add("encoder", new Linear(2, 2)).Add("act", new Relu());
        Assert.True(dict.ContainsKey("act"));
        Assert.IsType<Relu>(dict["act"]);
        Assert.Equal(["encoder.weight", "encoder.bias"], dict.StateDict().Keys);
        Assert.Contains("no module named 'x'", Assert.Throws<KeyNotFoundException>(() => dict["x"]).Message);

        var seq = new Sequential { new Linear(2, 3), new Relu() };
        Assert.Equal(2, seq.Count);
        Assert.Equal([2, 3], seq.Call(Tensor.Ones([2, 2])).Shape.ToArray());
    }
}
