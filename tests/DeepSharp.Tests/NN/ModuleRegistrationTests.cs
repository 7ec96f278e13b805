using DeepSharp.NN;
using DeepSharp.Optim;

namespace DeepSharp.Tests.NN;

// Regression (issue 11): a layer assigned to a field without RegisterModule silently dropped out of Parameters(),
// StateDict() and the optimizer, and simply never trained. Now the first forward pass through Call says so.
public sealed class ModuleRegistrationTests
{
    private sealed class Forgetful : Module<Tensor, Tensor>
    {
        private readonly Linear _fc1;
        private readonly Linear _fc2; // never registered

        public Forgetful()
        {
            _fc1 = RegisterModule("fc1", new Linear(4, 8, generator: new Generator(1)));
            _fc2 = new Linear(8, 2, generator: new Generator(2));
        }

        public override Tensor Forward(Tensor input) => _fc2.Call(_fc1.Call(input).Relu());
    }

    private sealed class ForgetfulInside : Module<Tensor, Tensor>
    {
        private readonly Sequential _body;

        public ForgetfulInside() => _body = RegisterModule("body", new Sequential(new Linear(4, 4), new Relu(), new Forgetful()));

        public override Tensor Forward(Tensor input) => _body.Call(input);
    }

    private sealed class ForgottenRecurrent : Module<Tensor, Tensor>
    {
        private readonly Gru _gru = new(4, 3);

        public override Tensor Forward(Tensor input) => _gru.Call(input, null).Output;
    }

    private sealed class Tied : Module<Tensor, Tensor>
    {
        // The decoder reuses the encoder's layer: registered once, under the encoder; calling it from the decoder is fine.
        private readonly Linear _shared;
        private readonly Decoder _decoder;

        public Tied()
        {
            var encoder = RegisterModule("encoder", new Sequential(new Linear(4, 4)));
            _shared = (Linear)encoder[0];
            _decoder = RegisterModule("decoder", new Decoder(_shared));
        }

        public override Tensor Forward(Tensor input) => _decoder.Call(_shared.Call(input));
    }

    private sealed class Decoder(Linear shared) : Module<Tensor, Tensor>
    {
        public override Tensor Forward(Tensor input) => shared.Call(input);
    }

    [Fact]
    public void AForgottenLayerFailsLoudlyAtTheFirstForward()
    {
        var model = new Forgetful();
        Assert.Equal(["fc1.weight", "fc1.bias"], model.StateDict().Keys); // what the optimizer would have seen
        var ex = Assert.Throws<InvalidOperationException>(() => model.Call(Tensor.Randn(3, 4)));
        Assert.Contains("Linear was called inside Forgetful's forward but is not registered in Forgetful", ex.Message);
        Assert.Contains("missing from Parameters(), StateDict() and the optimizer", ex.Message);
        Assert.Contains("RegisterModule(\"layer\", new Linear(...))", ex.Message);
    }

    [Fact]
    public void AForgottenLayerDeepInsideATreeIsFoundToo()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => new ForgetfulInside().Call(Tensor.Randn(3, 4)));
        Assert.Contains("called inside Forgetful's forward but is not registered in ForgetfulInside", ex.Message);
        var rnn = Assert.Throws<InvalidOperationException>(() => new ForgottenRecurrent().Call(Tensor.Randn(5, 2, 4)));
        Assert.Contains("GRU was called inside ForgottenRecurrent's forward", rnn.Message);
    }

    [Fact]
    public void AFailedCallLeavesNothingBehind()
    {
        Assert.Throws<InvalidOperationException>(() => new Forgetful().Call(Tensor.Randn(3, 4)));
        // The call stack unwound: an unrelated module called next is a root of its own again.
        Assert.Equal([3, 2], new Linear(4, 2).Call(Tensor.Randn(3, 4)).Shape.ToArray());
    }

    [Fact]
    public void RegisteredAndSharedLayersRunAsBefore()
    {
        var tied = new Tied();
        Assert.Equal([2, 4], tied.Call(Tensor.Randn(2, 4)).Shape.ToArray());
        Assert.Equal(["encoder.0.weight", "encoder.0.bias"], tied.StateDict().Keys);

        var seq = new Sequential(new Linear(4, 8), new Relu(), new Sequential(new Linear(8, 3), new Tanh()));
        var optimizer = new Sgd(seq.Parameters(), new SgdOptions(Lr: 0.1));
        Functional.MseLoss(seq.Call(Tensor.Randn(5, 4)), Tensor.Zeros(5, 3)).Backward();
        optimizer.Step();
        Assert.All(seq.Parameters(), p => Assert.NotNull(p.Grad));
    }

    [Fact]
    public void ALayerAddedAfterTheFirstForwardIsSeen()
    {
        var seq = new Sequential(new Linear(4, 4));
        seq.Call(Tensor.Randn(1, 4));
        seq.Add(new Linear(4, 2)); // registration invalidates the cached set of descendants
        Assert.Equal([1, 2], seq.Call(Tensor.Randn(1, 4)).Shape.ToArray());
    }
}
