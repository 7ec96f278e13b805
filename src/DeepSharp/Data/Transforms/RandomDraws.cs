namespace DeepSharp.Data;

/// <summary>
/// Random numbers for a batch of images: a block of <c>perImage</c> counter values per image,
/// reserved from the generator in one call. Image n's parameters are a pure function of the
/// generator's state and n, whatever the other images drew.
/// </summary>
internal readonly struct RandomDraws
{
    private readonly Generator _generator;
    private readonly long _start;
    private readonly int _perImage;

    public RandomDraws(Generator generator, int images, int perImage)
    {
        ArgumentNullException.ThrowIfNull(generator);
        _generator = generator;
        _perImage = perImage;
        _start = generator.Reserve((long)images * perImage);
    }

    private long Counter(int image, int k) => _start + (long)image * _perImage + k;

    /// <summary>Uniform in [0, 1).</summary>
    public double Uniform(int image, int k) => _generator.UniformDouble(Counter(image, k));

    /// <summary>Uniform in [low, high).</summary>
    public double Uniform(int image, int k, double low, double high) => low + (high - low) * Uniform(image, k);

    /// <summary>An integer uniform in [low, high) (high &gt; low), as torch.randint.</summary>
    public int Integer(int image, int k, int low, int high) =>
        low + (int)Math.BigMul(_generator.Bits(Counter(image, k)), (ulong)(high - low), out _);

    /// <summary>A seed for a sub-stream (e.g. random pixel values) owned by one image.</summary>
    public ulong Seed(int image, int k) => _generator.Bits(Counter(image, k));
}
