namespace DeepSharp.Optim;

/// <summary>
/// Updates parameters (leaf tensors) from their gradients. Each parameter's update is one fused
/// SIMD pass over its elements and its state buffers (Kernels/Optim); state is allocated on a
/// parameter's first update and reused, so a steady-state <see cref="Step"/> allocates nothing.
/// Parameters whose Grad is null are skipped, as in PyTorch.
/// </summary>
public abstract class Optimizer
{
    private readonly string _name;
    private readonly string[] _bufferNames;
    private readonly bool _hasStepCount;
    private readonly Func<OptimizerOptions, bool> _accepts;
    private readonly List<ParamGroup> _groups = [];
    private readonly List<Tensor> _params = []; // all groups' parameters in order: the index in state-dict keys
    private readonly HashSet<Tensor> _known = new(ReferenceEqualityComparer.Instance);
    private ParamState?[] _state = [];

    /// <summary>Creates an optimizer over <paramref name="groups"/>; derived optimizers call it with their name and state layout.</summary>
    /// <param name="name">The optimizer's name in error messages.</param>
    /// <param name="groups">The parameter groups; each parameter may appear only once, and there must be at least one.</param>
    /// <param name="bufferNames">State buffers per parameter under PyTorch's names (state.N.exp_avg).</param>
    /// <param name="hasStepCount">Whether the state has a step count (state.N.step); SGD's has none.</param>
    /// <param name="accepts">Whether a group's options are this optimizer's (a type test).</param>
    protected Optimizer(string name, IEnumerable<ParamGroup> groups, string[] bufferNames, bool hasStepCount, Func<OptimizerOptions, bool> accepts)
    {
        ArgumentNullException.ThrowIfNull(groups);
        _name = name;
        _bufferNames = bufferNames;
        _hasStepCount = hasStepCount;
        _accepts = accepts;
        foreach (var group in groups) AddParamGroup(group);
        if (_params.Count == 0) throw new ArgumentException($"{name}: got an empty parameter list");
    }

    /// <summary>The parameter groups, in the order they were added (PyTorch's <c>param_groups</c>).</summary>
    public IReadOnlyList<ParamGroup> ParamGroups => _groups;

    /// <summary>Names of the per-parameter state buffers, in <see cref="ParamState.Buffers"/> order.</summary>
    public IReadOnlyList<string> BufferNames => _bufferNames;

    /// <summary>Adds a group (e.g. layers unfrozen during fine-tuning); its parameters must be new to this optimizer.</summary>
    public void AddParamGroup(ParamGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (!_accepts(group.Options))
            throw new ArgumentException($"{_name}: parameter group {_groups.Count} has {group.Options.GetType().Name}, which this optimizer does not use");
        for (int i = 0; i < group.ParamArray.Length; i++)
        {
            var p = group.ParamArray[i] ?? throw new ArgumentNullException(nameof(group), $"{_name}: parameter {i} of group {_groups.Count} is null");
            if (!p.IsLeaf) throw new ArgumentException($"{_name}: can't optimize a non-leaf tensor ({p.Describe()}, parameter {i} of group {_groups.Count})");
            if (!p.IsFloatingPoint) throw new ArgumentException($"{_name}: can only optimize floating-point tensors, parameter {i} of group {_groups.Count} is {p.DType.Name()}");
        }
        var unique = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var p in group.ParamArray)
            if (_known.Contains(p) || !unique.Add(p))
                throw new ArgumentException($"{_name}: some parameters appear more than once ({p.Describe()}); a parameter may be in only one group");
        _known.UnionWith(group.ParamArray);
        _groups.Add(group);
        _params.AddRange(group.ParamArray);
        Array.Resize(ref _state, _params.Count);
    }

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    public void Step()
    {
        int index = 0;
        foreach (var group in _groups)
        {
            var options = group.Options;
            foreach (var p in group.ParamArray)
            {
                if (p.Grad is { } grad) UpdateOne(index, p, grad, options);
                index++;
            }
        }
    }

    /// <summary>Clears the gradients: to null (the default, as PyTorch 2), or to zeros in place so that their buffers are reused.</summary>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var p in _params)
        {
            if (setToNone) p.Grad = null;
            else if (p.Grad is { } g)
            {
                using var _ = Autograd.NoGrad();
                g.Zero();
            }
        }
    }

    /// <summary>The state of a parameter, or null before its first update.</summary>
    public ParamState? GetState(Tensor param)
    {
        int i = _params.FindIndex(p => ReferenceEquals(p, param));
        if (i < 0) throw new ArgumentException($"{_name}.GetState: the tensor is not a parameter of this optimizer");
        return _state[i];
    }

    private void UpdateOne(int index, Tensor p, Tensor grad, OptimizerOptions options)
    {
        if (grad.DType != p.DType || grad.Shape != p.Shape)
            throw new InvalidOperationException($"{_name}: parameter {index} is {p.Describe()} but its gradient is {grad.Describe()}");
        var state = _state[index] ??= new ParamState(_bufferNames.Length);
        if (!grad.IsContiguous) grad = grad.ContiguousData();
        if (p.IsContiguous)
        {
            Update(state, p, grad, options);
        }
        else
        {
            // Kernels need one span: update a contiguous copy and write it back (rare: parameters are made contiguous).
            var work = p.ContiguousData();
            Update(state, work, grad, options);
            Tensor.CopyElements(work, p);
        }
        p.BumpVersion(); // an in-place write: autograd must see that saved copies of p are stale
        Tensor.KeepAlive(grad); // may be a contiguous copy the update read through a span
    }

    /// <summary>Updates one parameter (contiguous, float32 or float64) from its gradient (contiguous, same shape and dtype).</summary>
    protected abstract void Update(ParamState state, Tensor param, Tensor grad, OptimizerOptions options);

    /// <summary>The state buffer at <paramref name="index"/>, created filled with <paramref name="fill"/> on first use.</summary>
    protected Tensor Buffer(ParamState state, int index, Tensor param, double fill = 0)
    {
        var buffer = state.BufferArray[index];
        if (buffer is null) return state.BufferArray[index] = Tensor.Full(param.Shape.ToArray(), fill, param.DType);
        if (buffer.DType != param.DType || buffer.Numel != param.Numel)
            throw new InvalidOperationException($"{_name}: state '{_bufferNames[index]}' is {buffer.Describe()} but its parameter is now {param.Describe()}; " +
                "convert the model's dtype before creating the optimizer");
        return buffer;
    }

    /// <summary>
    /// The elements of a contiguous tensor (a parameter, gradient or buffer inside <see cref="Update"/>),
    /// or an empty span for a null buffer the update does not use.
    /// </summary>
    protected static Span<T> Elements<T>(Tensor? t) where T : unmanaged
    {
        if (t is null) return default;
        t.CheckDType<T>("Optimizer.Elements");
        if (!t.IsContiguous) throw new ArgumentException($"Optimizer.Elements: the tensor ({t.Describe()}) is not contiguous");
        return t.Span<T>();
    }

    // ---- state dict: everything a tensor, so that it fits in a safetensors checkpoint ----

    /// <summary>
    /// The optimizer's state as tensors (copies): <c>state.N.step</c> and <c>state.N.{buffer}</c> per
    /// parameter N (numbered across groups), and <c>param_groups.G.{hyper-parameter}</c> (rank-0
    /// float64), <c>param_groups.G.params</c> (int64 indices) and <c>param_groups.G.initial_lr</c>
    /// (when a scheduler set it) per group.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var dict = new Dictionary<string, Tensor>();
        for (int i = 0; i < _params.Count; i++)
        {
            if (_state[i] is not { } state) continue;
            if (_hasStepCount) dict[$"state.{i}.step"] = StateDictReader.Scalar(state.Step);
            for (int b = 0; b < _bufferNames.Length; b++)
                if (state.BufferArray[b] is { } buffer) dict[$"state.{i}.{_bufferNames[b]}"] = buffer.Clone();
        }
        int first = 0;
        for (int g = 0; g < _groups.Count; g++)
        {
            var group = _groups[g];
            var ids = new long[group.ParamArray.Length];
            for (int k = 0; k < ids.Length; k++) ids[k] = first + k;
            first += ids.Length;
            dict[$"param_groups.{g}.params"] = Tensor.From(ids, ids.Length);
            foreach (var (name, value) in group.Options.HyperParameters()) dict[$"param_groups.{g}.{name}"] = StateDictReader.Scalar(value);
            if (group.InitialLr is double initial) dict[$"param_groups.{g}.initial_lr"] = StateDictReader.Scalar(initial);
        }
        return dict;
    }

    /// <summary>
    /// Restores a <see cref="StateDict"/> into an optimizer over the same parameter layout: group
    /// hyper-parameters and every parameter's state (copied, converted to the parameter's dtype).
    /// Nothing changes unless the whole dict is valid; unknown keys are an error.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict) => PrepareLoadStateDict(stateDict)();

    /// <summary>The checking half of <see cref="LoadStateDict"/>: throws on an invalid dict and changes nothing; otherwise returns the action that applies it.</summary>
    internal Action PrepareLoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var reader = new StateDictReader(_name, stateDict);
        var options = new OptimizerOptions[_groups.Count];
        var initialLrs = new double?[_groups.Count];
        for (int g = 0; g < _groups.Count; g++)
        {
            var group = _groups[g];
            var ids = reader.Get($"param_groups.{g}.params");
            if (ids.Numel != group.ParamArray.Length)
                throw new ArgumentException($"{_name}.LoadStateDict: parameter group {g} has {ids.Numel} parameters in the state dict but {group.ParamArray.Length} here");
            // Not validated: a schedule may have taken lr or momentum anywhere (as PyTorch, which checks only at construction).
            options[g] = group.Options.FromHyperParameters(name => reader.Double($"param_groups.{g}.{name}"));
            initialLrs[g] = reader.TryDouble($"param_groups.{g}.initial_lr");
        }
        if (reader.Has($"param_groups.{_groups.Count}.params"))
            throw new ArgumentException($"{_name}.LoadStateDict: the state dict has more parameter groups than this optimizer ({_groups.Count})");

        var states = new ParamState?[_params.Count];
        for (int i = 0; i < _params.Count; i++)
        {
            var p = _params[i];
            ParamState? state = null;
            if (_hasStepCount && reader.TryDouble($"state.{i}.step") is double step)
                (state ??= new ParamState(_bufferNames.Length)).Step = step;
            for (int b = 0; b < _bufferNames.Length; b++)
            {
                string key = $"state.{i}.{_bufferNames[b]}";
                if (reader.TryGet(key) is not { } saved) continue;
                if (saved.Shape != p.Shape)
                    throw new ArgumentException($"{_name}.LoadStateDict: '{key}' has shape {Shapes.Format(saved.Shape)} but parameter {i} has shape {Shapes.Format(p.Shape)}");
                if (!saved.IsFloatingPoint)
                    throw new ArgumentException($"{_name}.LoadStateDict: '{key}' is {saved.DType.Name()}, expected a floating-point tensor");
                (state ??= new ParamState(_bufferNames.Length)).BufferArray[b] = CopyAs(saved, p);
            }
            states[i] = state;
        }
        reader.EnsureAllUsed();

        return () =>
        {
            for (int g = 0; g < _groups.Count; g++)
            {
                _groups[g].SetOptionsUnchecked(options[g]);
                _groups[g].InitialLr = initialLrs[g];
            }
            _state = states;
        };
    }

    private static Tensor CopyAs(Tensor saved, Tensor param)
    {
        var copy = Tensor.Zeros(param.Shape.ToArray(), param.DType);
        using var _ = Autograd.NoGrad();
        copy.CopyFrom(saved);
        return copy;
    }
}

/// <summary>An optimizer whose groups all use <typeparamref name="TOptions"/>.</summary>
public abstract class Optimizer<TOptions> : Optimizer where TOptions : OptimizerOptions
{
    /// <summary>Creates an optimizer over <paramref name="groups"/> whose options must all be <typeparamref name="TOptions"/>.</summary>
    /// <param name="name">The optimizer's name in error messages.</param>
    /// <param name="groups">The parameter groups.</param>
    /// <param name="bufferNames">State buffers per parameter under PyTorch's names (e.g. exp_avg).</param>
    /// <param name="hasStepCount">Whether the state has a step count (state.N.step).</param>
    protected Optimizer(string name, IEnumerable<ParamGroup> groups, string[] bufferNames, bool hasStepCount)
        : base(name, groups, bufferNames, hasStepCount, static o => o is TOptions)
    {
    }

    /// <summary>The options of group <paramref name="group"/>, typed.</summary>
    public TOptions Options(int group = 0) => (TOptions)ParamGroups[group].Options;

    /// <inheritdoc/>
    protected sealed override void Update(ParamState state, Tensor param, Tensor grad, OptimizerOptions options) =>
        Update(state, param, grad, (TOptions)options);

    /// <summary>Updates one parameter (contiguous, float32 or float64) from its gradient (contiguous, same shape and dtype) with its group's typed options.</summary>
    protected abstract void Update(ParamState state, Tensor param, Tensor grad, TOptions options);
}

