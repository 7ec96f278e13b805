using System.Collections.Concurrent;
using DeepSharp.Kernels;
using DeepSharp.NN;

namespace DeepSharp.Inference;

/// <summary>
/// An eval-mode model prepared once for inputs of one shape: batch norm folded into the convolution and linear
/// weights before it, ReLU applied in the epilogue of the step that produces its input, the sequence of kernels
/// fixed, and every activation placed in one block allocated once (<see cref="MemoryPlanner"/>). Calls record no
/// gradients and allocate only their output. Layers the planner does not know run eagerly inside the plan
/// (<see cref="EagerModules"/>); a model whose parameters are not float32 runs eagerly as a whole.
/// <para>
/// Thread-safe: each concurrent call takes its own activation block from a pool (one block per caller in flight),
/// and the plan itself is immutable. The weights are a snapshot taken by <see cref="Prepare"/>: prepare again after
/// changing them. A plan prepared for batch N serves any batch from 0 to N.
/// </para>
/// <para>
/// Threads: preparation times each convolution, linear and pooling step alone and on the worker pool, and a step
/// uses the pool only from the batch size where that was faster on this machine (<see cref="PooledFromBatch"/>); then
/// it times the whole plan against cutting the batch into one share per thread (<see cref="SplitFromBatch"/>).
/// </para>
/// <para>
/// Kernels: where Winograd's kernels take 3x3 convolutions at the prepared batch, preparation plans the model twice,
/// with them and with the channel-blocked kernel, and keeps the plan that runs faster on this machine (see
/// <see cref="Steps"/>, "winograd"). Winograd's fewer products win on large batches; the blocked kernel, which fuses
/// residual additions and needs no layout passes, on small ones. A Winograd plan called with a batch too small for
/// those kernels runs those convolutions with the general ones. Being timed, the choice can differ between two
/// preparations of the same model (on a busy machine, or near the crossover), and with it the outputs' last bits.
/// </para>
/// </summary>
/// <example><code>
/// model.Eval();
/// var fast = InferenceModel.Prepare(model, [64, 3, 32, 32]);
/// Tensor logits = fast.Run(images);   // same values as model.Call(images), within float32 rounding
/// </code></example>
public sealed class InferenceModel
{
    private readonly PlanStep[] _steps;
    private readonly PlanValue _input;
    private readonly PlanValue _output;
    private readonly long _arenaFloats;
    private readonly int[] _inputShape;
    private readonly ConcurrentBag<Arena> _arenas = [];
    private readonly Module<Tensor, Tensor>? _wholeEager; // a model with float64 parameters: the plan's steps are float32
    private readonly DType _dtype = DType.Float32;
    private int[] _pooledFrom; // per step: the smallest batch that uses the worker pool (ThreadingTuner)

    private InferenceModel(Module<Tensor, Tensor> model, DType dtype, int[] inputShape, int[] outputSample)
        : this([], new PlanValue(inputShape[1..]) { IsInput = true }, new PlanValue(outputSample), 0, inputShape)
    {
        _wholeEager = model;
        _dtype = dtype;
    }

    // Threading: tunedLike's choices (a plan of the same steps), else every step on the pool and the batch whole until
    // TuneThreading measures them.
    private InferenceModel(PlanStep[] steps, PlanValue input, PlanValue output, long arenaFloats, int[] inputShape, InferenceModel? tunedLike = null)
    {
        _steps = steps;
        _input = input;
        _output = output;
        _arenaFloats = arenaFloats;
        _inputShape = inputShape;
        _pooledFrom = tunedLike?._pooledFrom ?? Enumerable.Repeat(1, steps.Length).ToArray();
        SplitFromBatch = tunedLike?.SplitFromBatch ?? int.MaxValue;
    }

    // The threading choices, measured on this machine (ThreadingTuner).
    internal void TuneThreading()
    {
        var arena = Rent();
        int maxBatch = Math.Max(_inputShape[0], 1);
        _pooledFrom = ThreadingTuner.Tune(_steps, arena, maxBatch, _input.SampleSize);
        _arenas.Add(arena);
        // An eager module would run once per share, and its hooks fire once per share: such plans keep the batch whole.
        // So do plans through Winograd's kernels: a share too small for them runs another kernel, whose roundings differ,
        // and whether a batch is cut depends on the thread count; whole, the outputs depend only on the batch.
        if (!_steps.OfType<EagerStep>().Any() && !UsesWinograd)
            SplitFromBatch = TuneSplit(maxBatch);
    }

    /// <summary>Whether a convolution of the plan runs through Winograd's kernels.</summary>
    private bool UsesWinograd => _steps.OfType<ConvStep>().Any(c => c.UsesWinograd);

    private int TuneSplit(int maxBatch)
    {
        var (input, output) = TimingBuffers();
        return ThreadingTuner.SplitFrom((batch, split) => TimeExecute(batch, split, input, output), maxBatch);
    }

    /// <summary>Pinned input and output for timing runs at the largest batch.</summary>
    internal (float[] Input, float[] Output) TimingBuffers()
    {
        int maxBatch = Math.Max(_inputShape[0], 1);
        return (GC.AllocateArray<float>(checked(maxBatch * _input.SampleSize), pinned: true),
                GC.AllocateArray<float>(checked(maxBatch * _output.SampleSize), pinned: true));
    }

    /// <summary>µs of one run at <paramref name="batch"/>, whole or in shares per thread, on buffers from <see cref="TimingBuffers"/>.</summary>
    internal unsafe double TimeExecute(int batch, bool split, float[] input, float[] output)
    {
        fixed (float* px = input)
        fixed (float* py = output)
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            Execute(px, py, batch, split);
            return System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
    }

    /// <summary>
    /// Plans <paramref name="model"/> (in eval mode) for inputs of <paramref name="inputShape"/>, whose first dim is the
    /// largest batch the plan will be called with. Validates the shape by planning it: a shape the model rejects fails
    /// here with the model's own error.
    /// </summary>
    public static InferenceModel Prepare(Module<Tensor, Tensor> model, params int[] inputShape)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Length == 0 || inputShape.Any(d => d < 0))
            throw new ArgumentException($"InferenceModel.Prepare: the input shape must start with the batch size and have no negative sizes, got {Shapes.Format(inputShape)}");
        var training = model.NamedModules().FirstOrDefault(m => m.Module.Training).Module;
        if (training is not null)
            throw new InvalidOperationException(
                $"InferenceModel.Prepare: {(ReferenceEquals(training, model) ? model.TypeName : training.TypeName)} is in training mode, where batch norm uses batch statistics and dropout drops; call model.Eval() first");
        var shape = (int[])inputShape.Clone();
        var other = model.Parameters().Concat(model.Buffers()).FirstOrDefault(t => t.IsFloatingPoint && t.DType != DType.Float32);
        if (other is not null)
        {
            Tensor y;
            using (Autograd.NoGrad()) y = model.Call(Tensor.Zeros(shape, other.DType));
            return new InferenceModel(model, other.DType, shape, y.ShapeArray.Length > 0 ? y.ShapeArray[1..] : []);
        }
        // The kernels are compared with every step on the pool; only the chosen plan's threading is then measured.
        var (plan, winogradCandidates) = Build(model, shape, winograd: false);
        if (winogradCandidates > 0) plan = KernelTuner.Faster(plan, Build(model, shape, winograd: true).Plan);
        plan.TuneThreading();
        return plan;
    }

    /// <summary>
    /// Plans <paramref name="model"/> again with the current weights (for the same input shape as <paramref name="tuned"/>),
    /// taking over <paramref name="tuned"/>'s kernel and threading choices instead of timing them again: preparing the cnn
    /// for batch 1,000 on two threads spends about 1.5 s timing, more than evaluating 5,000 images through the plan. A
    /// trainer evaluates the same model after every epoch. Falls back to <see cref="Prepare"/> when the steps differ
    /// (hooks added since, say).
    /// </summary>
    internal static InferenceModel PrepareAgain(InferenceModel tuned, Module<Tensor, Tensor> model)
    {
        ArgumentNullException.ThrowIfNull(tuned);
        ArgumentNullException.ThrowIfNull(model);
        int[] shape = tuned._inputShape;
        if (tuned._wholeEager is not null || model.NamedModules().Any(m => m.Module.Training)) return Prepare(model, shape);
        var plan = Build(model, shape, tuned.UsesWinograd, tuned).Plan;
        if (!plan.Steps.SequenceEqual(tuned.Steps)) return Prepare(model, shape);
        // The same layout: the new plan takes over the idle activation blocks, already touched, instead of page-faulting
        // fresh ones on its first call (100 MB and a tenth of a second per evaluation for the cnn at batch 1,000).
        if (plan._arenaFloats == tuned._arenaFloats)
            while (tuned._arenas.TryTake(out var arena)) plan._arenas.Add(arena);
        return plan;
    }

    /// <summary>
    /// Plans <paramref name="model"/> for <paramref name="shape"/>, the 3x3 convolutions that Winograd's kernels take at
    /// the largest batch given to them (<paramref name="winograd"/>) or to the channel-blocked kernel; also counts those
    /// convolutions.
    /// </summary>
    internal static (InferenceModel Plan, int WinogradCandidates) Build(Module<Tensor, Tensor> model, int[] shape, bool winograd,
        InferenceModel? tunedLike = null)
    {
        int maxBatch = Math.Max(shape[0], 1);
        var input = new PlanValue(shape[1..]) { IsInput = true };
        var builder = new PlanBuilder(model, maxBatch, winograd);
        var output = builder.Call(model, input);
        var steps = BlockedPlanning.Apply(FlatPlanning.Apply(Fusion.Apply(builder.Steps, output), output), output);
        long floats = MemoryPlanner.Assign(steps, output, maxBatch);
        return (new InferenceModel([.. steps], input, output, floats, shape, tunedLike), builder.WinogradCandidates);
    }

    /// <summary>The shape given to <see cref="Prepare"/> (its first dim is the largest batch).</summary>
    public IReadOnlyList<int> InputShape => _inputShape;

    /// <summary>The output shape for the largest batch.</summary>
    public IReadOnlyList<int> OutputShape => [_inputShape[0], .. _output.SampleShape];

    /// <summary>The planned steps in order, one line each (e.g. <c>conv2d 3x3 16->16 +bn +relu [N, 16, 32, 32]</c>).</summary>
    public IReadOnlyList<string> Steps => _wholeEager is null ? _steps.Select(s => s.Describe()).ToArray()
        : [$"eager {_wholeEager.TypeName} (the plan's kernels are float32, its parameters are {_dtype.Name()})"];

    /// <summary>
    /// Per step, the smallest batch from which it runs on the worker pool (1: every batch; int.MaxValue: never), as
    /// measured on this machine by <see cref="Prepare"/> with <see cref="WorkerPool.Threads"/> threads (see ThreadingTuner).
    /// </summary>
    public IReadOnlyList<int> PooledFromBatch => _pooledFrom;

    /// <summary>
    /// The smallest batch that is cut into one share per thread, each thread running every step on its share
    /// (int.MaxValue: never), as measured on this machine by <see cref="Prepare"/>: whole-batch steps split across the
    /// pool hand activations from core to core and wait for each other at every step, which costs more on some machines
    /// than on others. Plans with eager steps or Winograd convolutions keep the batch whole. (Settable inside the library
    /// for tests.)
    /// </summary>
    public int SplitFromBatch { get; internal set; } = int.MaxValue;

    /// <summary>Paths of the modules that run eagerly inside the plan (empty when everything is planned; the model's type when it all is).</summary>
    public IReadOnlyList<string> EagerModules => _wholeEager is null ? _steps.OfType<EagerStep>().Select(s => s.Name).ToArray() : [_wholeEager.TypeName];

    /// <summary>Bytes of activations one call in flight uses (one such block per concurrent caller).</summary>
    public long ActivationBytes => _arenaFloats * sizeof(float);

    /// <summary>The model's output for <paramref name="input"/>, a float32 batch of the prepared shape of at most the prepared batch size.</summary>
    public unsafe Tensor Run(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInput(input);
        if (_wholeEager is not null)
        {
            using (Autograd.NoGrad()) return _wholeEager.Call(input);
        }
        int batch = input.ShapeArray[0];
        var result = Tensor.Empty([batch, .. _output.SampleShape], DType.Float32);
        if (result.Numel == 0) return result;
        var x = input.ContiguousData();
        fixed (float* px = x.Array<float>())
        fixed (float* py = result.Span<float>())
            Execute(px + x.Offset, py, batch, batch >= SplitFromBatch);
        Tensor.KeepAlive(x);
        return result;
    }

    // The whole batch through every step (each step on the pool from its tuned batch), or with split the batch cut into
    // one share per thread, each thread running every step on its share alone: no step waits for the others and no
    // activation moves between cores.
    private unsafe void Execute(float* input, float* output, int batch, bool split)
    {
        int parts = split ? Math.Min(WorkerPool.Threads, batch) : 1;
        if (parts > 1 && !WorkerPool.IsInParallelRegion)
            WorkerPool.For(parts, new SplitJob(this, input, output, batch, parts));
        else
            RunShare(input, output, batch);
    }

    private unsafe void RunShare(float* input, float* output, int batch)
    {
        var arena = Rent();
        try
        {
            arena.Input = input;
            arena.Batch = batch;
            for (int i = 0; i < _steps.Length; i++)
            {
                if (batch >= _pooledFrom[i])
                {
                    _steps[i].Run(arena);
                    continue;
                }
                using var _ = WorkerPool.RunInline();
                _steps[i].Run(arena);
            }
            arena.Span(_output).CopyTo(new Span<float>(output, checked(batch * _output.SampleSize)));
            arena.Input = null;
        }
        finally
        {
            _arenas.Add(arena);
        }
    }

    private sealed unsafe class SplitJob(InferenceModel model, float* input, float* output, int batch, int parts) : IParallelTask
    {
        public void Run(int part)
        {
            var (start, end) = WorkerPool.Range(part, parts, batch, 1);
            if (start < end)
                model.RunShare(input + (long)start * model._input.SampleSize, output + (long)start * model._output.SampleSize, end - start);
        }
    }

    private Arena Rent() => _arenas.TryTake(out var arena) ? arena : new Arena(_arenaFloats);

    private void CheckInput(Tensor input)
    {
        var shape = input.ShapeArray;
        if (input.DType != _dtype || shape.Length != _inputShape.Length || !shape.AsSpan(1).SequenceEqual(_inputShape.AsSpan(1)))
            throw new ArgumentException(
                $"InferenceModel.Run: expected {_dtype.Name()} input [N{string.Concat(_inputShape.Skip(1).Select(d => ", " + d))}] with N <= {_inputShape[0]} (the prepared shape), got {input.Describe()}");
        if (shape[0] > _inputShape[0])
            throw new ArgumentException($"InferenceModel.Run: batch {shape[0]} is larger than the {_inputShape[0]} the model was prepared for; prepare it with the largest batch it will see");
    }

    /// <summary>Input and output shapes, activation memory and the compiled steps, one per line.</summary>
    public override string ToString() =>
        $"InferenceModel {Shapes.Format(_inputShape)} -> [N{string.Concat(_output.SampleShape.Select(d => ", " + d))}], {ActivationBytes / 1024.0:F0} KiB of activations per caller\n  " + string.Join("\n  ", Steps);
}
