using DeepSharp.Kernels;

namespace DeepSharp;

// Arithmetic with broadcasting: + - * / neg pow maximum minimum, tensor and scalar forms.
// Each forward is followed by its backward node; gradients of broadcast inputs are reduced
// back to the input's shape by Autograd.SumToShape.
public sealed partial class Tensor
{
    // ---- add / sub ----

    /// <summary>this + alpha * other, with broadcasting.</summary>
    public Tensor Add(Tensor other, double alpha = 1) => AddScaled(other, alpha, "AddBackward");

    /// <summary>this - alpha * other, with broadcasting.</summary>
    public Tensor Sub(Tensor other, double alpha = 1) => AddScaled(other, -alpha, "SubBackward");

    private Tensor AddScaled(Tensor other, double alpha, string name)
    {
        var result = alpha == -1
            ? Binary<Sub>("sub", this, other)
            : Binary<Add>("add", this, alpha == 1 ? other : other.MulRaw(alpha));
        if (Autograd.ShouldRecord(this, other)) result.GradFn = new AddBackward(this, other, alpha, name);
        return result;
    }

    /// <summary>this + scalar, elementwise. The scalar is converted to the tensor's dtype (an int64 tensor needs a whole number).</summary>
    public Tensor Add(double scalar)
    {
        var result = Scalar<Add>("add", this, scalar);
        if (Autograd.ShouldRecord(this)) result.GradFn = new ScaleBackward("AddBackward", this, 1);
        return result;
    }

    /// <summary>this - scalar, elementwise.</summary>
    public Tensor Sub(double scalar) => Add(-scalar);

    /// <summary>scalar - this.</summary>
    public Tensor RSub(double scalar)
    {
        var result = Scalar<Sub>("rsub", this, scalar, scalarFirst: true);
        if (Autograd.ShouldRecord(this)) result.GradFn = new ScaleBackward("RsubBackward", this, -1);
        return result;
    }

    private sealed class AddBackward(Tensor a, Tensor b, double alpha, string name) : Node(a, b)
    {
        private readonly int[] _aShape = a.ShapeArray, _bShape = b.ShapeArray;

        public override string Name => name;

        protected internal override Tensor?[] Backward(Tensor g) =>
        [
            NeedsGrad(0) ? Autograd.SumToShape(g, _aShape) : null,
            NeedsGrad(1) ? Autograd.SumToShape(alpha == 1 ? g : g.MulRaw(alpha), _bShape) : null,
        ];
    }

    /// <summary>Gradient of x*c + d for a constant c: g*c.</summary>
    private sealed class ScaleBackward(string name, Tensor x, double scale) : Node(x)
    {
        public override string Name => name;

        protected internal override Tensor?[] Backward(Tensor g) => [scale == 1 ? g : g.MulRaw(scale)];
    }

    // ---- mul / div ----

    /// <summary>Elementwise product this * other, with broadcasting (torch.mul). Both tensors must have the same dtype.</summary>
    public Tensor Mul(Tensor other)
    {
        var result = Binary<Mul>("mul", this, other);
        if (Autograd.ShouldRecord(this, other)) result.GradFn = new MulBackward(this, other);
        return result;
    }

    /// <summary>this * scalar, elementwise.</summary>
    public Tensor Mul(double scalar)
    {
        var result = MulRaw(scalar);
        if (Autograd.ShouldRecord(this)) result.GradFn = new ScaleBackward("MulBackward", this, scalar);
        return result;
    }

    internal Tensor MulRaw(double scalar) =>
        Scalar<Mul>("mul", this, scalar);

    private sealed class MulBackward : Node
    {
        private readonly int[] _aShape, _bShape;

        public MulBackward(Tensor a, Tensor b) : base(a, b)
        {
            _aShape = a.ShapeArray;
            _bShape = b.ShapeArray;
            SaveForBackward(NeedsGrad(1) ? a : null, NeedsGrad(0) ? b : null);
        }

        protected internal override Tensor?[] Backward(Tensor g) =>
        [
            NeedsGrad(0) ? Autograd.SumToShape(g * Saved(1), _aShape) : null,
            NeedsGrad(1) ? Autograd.SumToShape(g * Saved(0), _bShape) : null,
        ];
    }

    /// <summary>Elementwise true division this / other, with broadcasting. Floating-point tensors of the same dtype only.</summary>
    /// <exception cref="ArgumentException">The tensors are not floating point or their dtypes differ.</exception>
    public Tensor Div(Tensor other)
    {
        RequireFloat("div");
        var result = BinaryFloat("div", this, other, default(DivOp<float>), default(DivOp<double>));
        if (Autograd.ShouldRecord(this, other)) result.GradFn = new DivBackward(this, other);
        return result;
    }

    /// <summary>this / scalar, elementwise. Floating-point tensors only.</summary>
    /// <exception cref="ArgumentException">The tensor is not floating point.</exception>
    public Tensor Div(double scalar)
    {
        RequireFloat("div");
        var result = Scalar<Div>("div", this, scalar);
        if (Autograd.ShouldRecord(this)) result.GradFn = new ScaleBackward("DivBackward", this, 1 / scalar);
        return result;
    }

    /// <summary>scalar / this.</summary>
    public Tensor RDiv(double scalar)
    {
        RequireFloat("rdiv");
        var result = Scalar<Div>("rdiv", this, scalar, scalarFirst: true);
        if (Autograd.ShouldRecord(this)) result.GradFn = new RDivBackward(this, result);
        return result;
    }

    private sealed class DivBackward : Node
    {
        private readonly int[] _aShape, _bShape;

        public DivBackward(Tensor a, Tensor b) : base(a, b)
        {
            _aShape = a.ShapeArray;
            _bShape = b.ShapeArray;
            SaveForBackward(NeedsGrad(1) ? a : null, b);
        }

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var b = Saved(1);
            var gOverB = g / b;
            return
            [
                NeedsGrad(0) ? Autograd.SumToShape(gOverB, _aShape) : null,
                // d(a/b)/db = -a/b^2
                NeedsGrad(1) ? Autograd.SumToShape(-(gOverB * Saved(0) / b), _bShape) : null,
            ];
        }
    }

    /// <summary>d(s/x)/dx = -s/x^2 = -y/x.</summary>
    private sealed class RDivBackward : Node
    {
        public RDivBackward(Tensor x, Tensor y) : base(x) => SaveForBackward(x, y);

        protected internal override Tensor?[] Backward(Tensor g) => [-(g * Saved(1) / Saved(0))];
    }

    // ---- neg ----

    /// <summary>-this, elementwise.</summary>
    public Tensor Neg()
    {
        var result = Scalar<Sub>("neg", this, 0, scalarFirst: true);
        if (Autograd.ShouldRecord(this)) result.GradFn = new ScaleBackward("NegBackward", this, -1);
        return result;
    }

    // ---- pow ----

    /// <summary>this ** exponent (elementwise, broadcasting).</summary>
    public Tensor Pow(Tensor exponent)
    {
        var result = BinaryFloat("pow", this, exponent, default(PowOp<float>), default(PowOp<double>));
        if (Autograd.ShouldRecord(this, exponent)) result.GradFn = new PowBackward(this, exponent, result);
        return result;
    }

    /// <summary>this ** exponent, elementwise, for a scalar exponent. Floating-point tensors only.</summary>
    /// <exception cref="ArgumentException">The tensor is not floating point.</exception>
    public Tensor Pow(double exponent)
    {
        RequireFloat("pow");
        var result = ScalarFloat("pow", this, exponent, default(PowOp<float>), default(PowOp<double>));
        if (Autograd.ShouldRecord(this)) result.GradFn = new PowScalarBackward(this, exponent);
        return result;
    }

    private sealed class PowScalarBackward : Node
    {
        private readonly double _p;

        public PowScalarBackward(Tensor x, double p) : base(x)
        {
            _p = p;
            SaveForBackward(x);
        }

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var x = Saved(0);
            if (_p == 0) return [ZerosLike(x)];
            if (_p == 1) return [g];
            if (_p == 2) return [g * x * 2];
            return [g * x.Pow(_p - 1) * _p];
        }
    }

    private sealed class PowBackward : Node
    {
        private readonly int[] _aShape, _bShape;

        public PowBackward(Tensor a, Tensor b, Tensor y) : base(a, b)
        {
            _aShape = a.ShapeArray;
            _bShape = b.ShapeArray;
            SaveForBackward(a, b, NeedsGrad(1) ? y : null);
        }

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var a = Saved(0);
            var b = Saved(1);
            Tensor? ga = null, gb = null;
            if (NeedsGrad(0)) ga = Autograd.SumToShape(g * b * a.Pow(b - 1), _aShape);
            if (NeedsGrad(1))
            {
                // d(a^b)/db = a^b * log(a); defined as 0 where a == 0 and b >= 0 (as PyTorch).
                var logA = Map<ZeroWhereZero>("pow", a, Unary<LogOp>("pow", a));
                gb = Autograd.SumToShape(g * Saved(2) * logA, _bShape);
            }
            return [ga, gb];
        }
    }

    // ---- maximum / minimum ----

    /// <summary>
    /// Elementwise maximum of this and other, with broadcasting (torch.maximum). Where the two are equal
    /// the gradient is split evenly between them.
    /// </summary>
    public Tensor Maximum(Tensor other) => MaxMin(other, max: true);

    /// <summary>Elementwise minimum of this and other, with broadcasting (torch.minimum); ties split the gradient evenly.</summary>
    public Tensor Minimum(Tensor other) => MaxMin(other, max: false);

    private Tensor MaxMin(Tensor other, bool max)
    {
        var result = max
            ? Binary<Max>("maximum", this, other)
            : Binary<Min>("minimum", this, other);
        if (Autograd.ShouldRecord(this, other)) result.GradFn = new MaxMinBackward(this, other, max);
        return result;
    }

    /// <summary>The gradient goes to the larger (smaller) input; ties split it evenly, as PyTorch does.</summary>
    private sealed class MaxMinBackward : Node
    {
        private readonly bool _max;

        public MaxMinBackward(Tensor a, Tensor b, bool max) : base(a, b)
        {
            _max = max;
            SaveForBackward(a, b);
        }

        public override string Name => _max ? "MaximumBackward" : "MinimumBackward";

        protected internal override Tensor?[] Backward(Tensor g)
        {
            var a = Saved(0);
            var b = Saved(1);
            var shape = g.ShapeArray;
            var weightA = Map<WinnerShare>("maximum", Materialize(a, shape), Materialize(b, shape), _max ? 1 : 0);
            return
            [
                NeedsGrad(0) ? Autograd.SumToShape(g * weightA, a.ShapeArray) : null,
                NeedsGrad(1) ? Autograd.SumToShape(g * weightA.RSub(1), b.ShapeArray) : null,
            ];
        }
    }

    // ---- operators ----

    /// <summary>Elementwise sum with broadcasting; see <see cref="Add(Tensor, double)"/>.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
    /// <summary>Adds a scalar to every element.</summary>
    public static Tensor operator +(Tensor a, double s) => a.Add(s);
    /// <summary>Adds a scalar to every element.</summary>
    public static Tensor operator +(double s, Tensor a) => a.Add(s);
    /// <summary>Elementwise difference with broadcasting; see <see cref="Sub(Tensor, double)"/>.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => a.Sub(b);
    /// <summary>Subtracts a scalar from every element.</summary>
    public static Tensor operator -(Tensor a, double s) => a.Add(-s);
    /// <summary>scalar - a, elementwise (<see cref="RSub"/>).</summary>
    public static Tensor operator -(double s, Tensor a) => a.RSub(s);
    /// <summary>Elementwise product with broadcasting (not a matrix product; see MatMul for that).</summary>
    public static Tensor operator *(Tensor a, Tensor b) => a.Mul(b);
    /// <summary>Multiplies every element by a scalar.</summary>
    public static Tensor operator *(Tensor a, double s) => a.Mul(s);
    /// <summary>Multiplies every element by a scalar.</summary>
    public static Tensor operator *(double s, Tensor a) => a.Mul(s);
    /// <summary>Elementwise division with broadcasting; floating-point tensors only.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => a.Div(b);
    /// <summary>Divides every element by a scalar; floating-point tensors only.</summary>
    public static Tensor operator /(Tensor a, double s) => a.Div(s);
    /// <summary>scalar / a, elementwise (<see cref="RDiv"/>); floating-point tensors only.</summary>
    public static Tensor operator /(double s, Tensor a) => a.RDiv(s);
    /// <summary>Elementwise negation.</summary>
    public static Tensor operator -(Tensor a) => a.Neg();
}
