namespace DeepSharp.Optim;

/// <summary>
/// Parameters that share hyper-parameters (PyTorch's param_groups entry). The options are
/// replaced, never mutated, so a scheduler's change of <see cref="Lr"/> is one assignment.
/// </summary>
public sealed class ParamGroup
{
    private readonly Tensor[] _params;
    private OptimizerOptions _options;

    /// <summary>A group of <paramref name="parameters"/> sharing <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public ParamGroup(IEnumerable<Tensor> parameters, OptimizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(options);
        _params = [.. parameters];
        options.Validate();
        _options = options;
    }

    /// <summary>The group's parameters (PyTorch's <c>params</c> entry).</summary>
    public IReadOnlyList<Tensor> Params => _params;

    internal Tensor[] ParamArray => _params;

    /// <summary>The group's hyper-parameters; a replacement must be of the same options type.</summary>
    public OptimizerOptions Options
    {
        get => _options;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            value.Validate();
            SetOptionsUnchecked(value);
        }
    }

    /// <summary>The current learning rate (what schedulers set). Not validated: like PyTorch's group['lr'], a schedule may take it anywhere.</summary>
    public double Lr
    {
        get => _options.Lr;
        set => _options = _options with { Lr = value };
    }

    /// <summary>Replaces the options without validating the values (schedulers cycling momentum, as PyTorch does).</summary>
    internal void SetOptionsUnchecked(OptimizerOptions value)
    {
        if (value.GetType() != _options.GetType())
            throw new ArgumentException($"ParamGroup.Options: expected {_options.GetType().Name}, got {value.GetType().Name}");
        _options = value;
    }

    /// <summary>The learning rate a scheduler started from (PyTorch's group['initial_lr']); null until a scheduler is attached.</summary>
    public double? InitialLr { get; set; }
}
