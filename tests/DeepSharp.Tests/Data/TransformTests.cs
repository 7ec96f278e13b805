using DeepSharp.Data;

namespace DeepSharp.Tests.Data;

/// <summary>Behaviour of the image transforms: geometry on small known images, randomness, statistics, errors, the loader and the parser.</summary>
public sealed class TransformTests
{
    /// <summary>A 1x5x5 image (or h x w) that is 0 except for a 1 at (row, col).</summary>
    private static Tensor Dot(int row, int col, int h = 5, int w = 5)
    {
        var x = new float[h * w];
        x[row * w + col] = 1;
        return Tensor.From(x, 1, h, w);
    }

    /// <summary>Row and column of the largest value of a [1, H, W] image.</summary>
    private static (int Row, int Col) Brightest(Tensor image)
    {
        var v = image.ToArray<float>();
        int w = image.Size(-1), best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return (best / w, best % w);
    }

    /// <summary>Distinct values 1..N per pixel, so every move of content is visible.</summary>
    private static Tensor Ramp(params int[] shape)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = i + 1;
        return Tensor.From(x, shape);
    }

    private static Tensor RandomImages(int n, int c = 1, int h = 28, int w = 28, ulong seed = 1) => Tensor.Rand([n, c, h, w], new Generator(seed));

    private static void AssertClose(float[] expected, float[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"{what}: element {i} is {actual[i]}, expected {expected[i]}");
    }

    /// <summary>Every random transform, with parameters that make each draw visible.</summary>
    public static TheoryData<string> RandomTransformNames() =>
        ["flip", "vflip", "crop", "rotate", "affine", "resizedcrop", "erase", "erase-random", "pipeline"];

    private static ITransform Make(string name) => name switch
    {
        "flip" => new RandomHorizontalFlip(),
        "vflip" => new RandomVerticalFlip(),
        "crop" => new RandomCrop(28, padding: 4),
        "rotate" => new RandomRotation(30),
        "affine" => new RandomAffine(10, translate: (0.1, 0.1), scale: (0.8, 1.2), shearX: (-10, 10), shearY: (-5, 5)),
        "resizedcrop" => new RandomResizedCrop(28),
        "erase" => new RandomErasing(p: 0.9, value: -1f),
        "erase-random" => new RandomErasing(p: 0.9, randomValues: true),
        _ => AugmentationParser.Parse("flip,crop,rotate,affine,erase,resizedcrop", 28, 1),
    };

    // ---- determinism ----

    [Theory]
    [MemberData(nameof(RandomTransformNames))]
    public void SameSeedGivesTheSameBatchAndImagesGetTheirOwnParameters(string name)
    {
        var t = Make(name);
        var x = RandomImages(32);
        var a = t.Apply(x, new Generator(7)).ToArray<float>();
        var b = t.Apply(x, new Generator(7)).ToArray<float>();
        Assert.Equal(a, b);
        Assert.NotEqual(a, t.Apply(x, new Generator(8)).ToArray<float>());
        Assert.Equal(x.Shape.ToArray(), t.Apply(x, new Generator(7)).Shape.ToArray());

        // A batch of copies of one image: the copies come out differently (per-image parameters).
        var copies = Tensor.Stack(Enumerable.Repeat(x[0], 16).ToArray());
        var outputs = t.Apply(copies, new Generator(3));
        var distinct = Enumerable.Range(0, 16).Select(i => string.Join(",", outputs[i].ToArray<float>())).Distinct().Count();
        int want = name.EndsWith("flip", StringComparison.Ordinal) ? 2 : 4; // a flip has two outcomes
        Assert.True(distinct >= want, $"{name}: only {distinct} distinct results for 16 copies");

        // The input is never modified.
        Assert.Equal(RandomImages(32).ToArray<float>(), x.ToArray<float>());
    }

    [Theory]
    [MemberData(nameof(RandomTransformNames))]
    public void SingleImagesAndPlainPlanesKeepTheirRank(string name)
    {
        var t = Make(name);
        var x = RandomImages(1);
        var single = t.Apply(x[0], new Generator(5));
        Assert.Equal([1, 28, 28], single.Shape.ToArray());
        // An image is the batch of one: the same draws give the same result.
        Assert.Equal(t.Apply(x, new Generator(5)).ToArray<float>(), single.ToArray<float>());
        Assert.Equal([28, 28], t.Apply(x[0, 0], new Generator(5)).Shape.ToArray());
        Assert.Equal([2, 3, 1, 28, 28], t.Apply(RandomImages(6).Reshape(2, 3, 1, 28, 28), new Generator(5)).Shape.ToArray());
    }

    [Fact]
    public void DrawsConsumeAFixedBlockPerImageSoNeighboursDoNotShift()
    {
        // Image n's parameters depend only on the generator state and n: growing the batch leaves the first images alone.
        var t = new RandomRotation(45);
        var x = RandomImages(8);
        var eight = t.Apply(x, new Generator(11));
        var three = t.Apply(x.Narrow(0, 0, 3), new Generator(11));
        Assert.Equal(eight.Narrow(0, 0, 3).ToArray<float>(), three.ToArray<float>());
        var g = new Generator(11);
        t.Apply(x, g);
        Assert.Equal(8, g.Offset);
    }

    [Fact]
    public void ComposeAppliesInOrderFromOneGenerator()
    {
        var flip = new RandomHorizontalFlip();
        var crop = new RandomCrop(28, padding: 2);
        var x = RandomImages(8);
        var g = new Generator(4);
        var expected = crop.Apply(flip.Apply(x, g), g).ToArray<float>();
        var composed = new Compose(flip, crop);
        Assert.Equal(expected, composed.Apply(x, new Generator(4)).ToArray<float>());
        Assert.Equal(expected, Transforms.Compose(flip, crop).Apply(x, new Generator(4)).ToArray<float>());
        Assert.Equal(2, composed.Steps.Count);
        Assert.Equal("Compose(RandomHorizontalFlip(p=0.5), RandomCrop(size=28x28, padding=2, mode=Constant, fill=0))", composed.ToString());
        Assert.Same(x, new Compose().Apply(x, g));
        Assert.Throws<ArgumentNullException>(() => new Compose(flip, null!));
    }

    // ---- geometry on known images ----

    [Fact]
    public void HorizontalFlipMirrorsTheColumn()
    {
        var x = Dot(1, 0);
        Assert.Equal((1, 4), Brightest(new RandomHorizontalFlip(1).Apply(x, new Generator(1))));
        Assert.Equal((3, 0), Brightest(new RandomVerticalFlip(1).Apply(x, new Generator(1))));
        Assert.Equal(x.ToArray<float>(), new RandomHorizontalFlip(0).Apply(x, new Generator(1)).ToArray<float>());
        var ramp = Ramp(2, 3, 4);
        Assert.Equal([4f, 3, 2, 1, 8, 7, 6, 5], ImageFunctional.HorizontalFlip(ramp).ToArray<float>()[..8]);
        Assert.Equal([9f, 10, 11, 12, 5, 6, 7, 8], ImageFunctional.VerticalFlip(ramp).ToArray<float>()[..8]);
        Assert.Equal(ramp.ToArray<float>(), ImageFunctional.HorizontalFlip(ImageFunctional.HorizontalFlip(ramp)).ToArray<float>());
    }

    [Fact]
    public void FlipWithHalfProbabilityFlipsAboutHalf()
    {
        var x = Tensor.Stack(Enumerable.Repeat(Dot(2, 0), 1000).ToArray());
        var y = new RandomHorizontalFlip(0.5).Apply(x, new Generator(2024));
        int flipped = Enumerable.Range(0, 1000).Count(i => Brightest(y[i]) == (2, 4));
        int kept = Enumerable.Range(0, 1000).Count(i => Brightest(y[i]) == (2, 0));
        Assert.Equal(1000, flipped + kept);
        Assert.InRange(flipped, 430, 570); // 1000 fair coins: sd 15.8, so +-4.4 sd
        var y2 = new RandomHorizontalFlip(0.2).Apply(x, new Generator(9));
        int p2 = Enumerable.Range(0, 1000).Count(i => Brightest(y2[i]) == (2, 4));
        Assert.InRange(p2, 140, 260);
    }

    [Fact]
    public void RotationBy90DegreesTurnsCounterClockwiseLikeRot90()
    {
        var x = Ramp(1, 5, 5);
        var y = new RandomRotation((90, 90)).Apply(x, new Generator(1)).ToArray<float>();
        // torch.rot90(x, 1, [1, 2]): out[r, c] = x[c, W - 1 - r].
        var v = x.ToArray<float>();
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 5; c++)
                Assert.Equal(v[c * 5 + 4 - r], y[r * 5 + c], 5);
        Assert.Equal((0, 0), Brightest(new RandomRotation((90, 90)).Apply(Dot(0, 4), new Generator(1))));
        // RandomAffine's angle is clockwise, as torchvision's: the top-right corner goes to the bottom-right.
        Assert.Equal((4, 4), Brightest(new RandomAffine((90, 90)).Apply(Dot(0, 4), new Generator(1))));
        // Four quarter turns give the image back.
        var back = x;
        for (int i = 0; i < 4; i++) back = ImageFunctional.Rotate(back, 90);
        AssertClose(x.ToArray<float>(), back.ToArray<float>(), 1e-4, "4 x 90 degrees");
    }

    [Fact]
    public void RotationKeepsTheCentreAndFillsTheCorners()
    {
        var ones = Tensor.Ones(1, 9, 9);
        var y = new RandomRotation((45, 45), fill: -1f).Apply(ones, new Generator(1)).ToArray<float>();
        Assert.Equal(1f, y[4 * 9 + 4], 6);
        Assert.Equal(-1f, y[0], 6); // the corner comes from outside the image
        var nearest = new RandomRotation((45, 45), InterpolationMode.Nearest, fill: 0.5f).Apply(ones, new Generator(1)).ToArray<float>();
        Assert.All(nearest, v => Assert.True(v is 1f or 0.5f));
        Assert.Equal(0.5f, nearest[0]);
    }

    [Fact]
    public void CropWithPaddingShiftsTheContent()
    {
        var x = Ramp(1, 5, 5);
        var v = x.ToArray<float>();
        var crop = new RandomCrop(5, 2); // torchvision's RandomCrop(size, padding)
        Assert.Equal(new Padding(2, 2, 2, 2), crop.Padding);
        var shifts = new HashSet<(int, int)>();
        for (ulong seed = 0; seed < 200; seed++)
        {
            var y = crop.Apply(x, new Generator(seed)).ToArray<float>();
            // Find the shift from where pixel (0, 0) went (or any visible one), then check the whole image.
            int dy = int.MinValue, dx = 0;
            for (int i = 0; i < 25 && dy == int.MinValue; i++)
                if (y[i] > 0) (dy, dx) = (i / 5 - (int)(y[i] - 1) / 5, i % 5 - (int)(y[i] - 1) % 5);
            Assert.InRange(dy, -2, 2);
            Assert.InRange(dx, -2, 2);
            shifts.Add((dy, dx));
            for (int r = 0; r < 5; r++)
                for (int c = 0; c < 5; c++)
                {
                    int sr = r - dy, sc = c - dx;
                    float want = sr is >= 0 and < 5 && sc is >= 0 and < 5 ? v[sr * 5 + sc] : 0;
                    Assert.Equal(want, y[r * 5 + c]);
                }
        }
        Assert.Equal(25, shifts.Count); // every offset of the padded image occurs
    }

    [Theory]
    [InlineData(PaddingMode.Constant)]
    [InlineData(PaddingMode.Edge)]
    [InlineData(PaddingMode.Reflect)]
    [InlineData(PaddingMode.Symmetric)]
    public void CropOfThePaddedSizeIsThePaddedImage(PaddingMode mode)
    {
        var x = Ramp(2, 3, 4);
        var padded = ImageFunctional.Pad(x, new Padding(2, 1, 3, 2), mode, fill: 0.5f);
        Assert.Equal([2, 6, 9], padded.Shape.ToArray());
        var crop = new RandomCrop((6, 9), new Padding(2, 1, 3, 2), mode, fill: 0.5f);
        Assert.Equal(padded.ToArray<float>(), crop.Apply(x, new Generator(3)).ToArray<float>());
        var row = padded[0, 1].ToArray<float>(); // the first image row, padded left by 2 and right by 3
        float[] expected = mode switch
        {
            PaddingMode.Constant => [0.5f, 0.5f, 1, 2, 3, 4, 0.5f, 0.5f, 0.5f],
            PaddingMode.Edge => [1f, 1, 1, 2, 3, 4, 4, 4, 4],
            PaddingMode.Reflect => [3f, 2, 1, 2, 3, 4, 3, 2, 1],
            _ => [2f, 1, 1, 2, 3, 4, 4, 3, 2],
        };
        Assert.Equal(expected, row);
    }

    [Fact]
    public void MirroringPaddingWiderThanTheImageRepeats()
    {
        var row = Tensor.From([1f, 2, 3], 1, 1, 3); // as numpy.pad's reflect and symmetric modes
        Assert.Equal([1f, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3], ImageFunctional.Pad(row, new Padding(4, 0), PaddingMode.Reflect).ToArray<float>());
        Assert.Equal([3f, 3, 2, 1, 1, 2, 3, 3, 2, 1, 1], ImageFunctional.Pad(row, new Padding(4, 0), PaddingMode.Symmetric).ToArray<float>());
        Assert.Equal([5f, 5, 5], ImageFunctional.Pad(Tensor.Full([1, 1, 1], 5), new Padding(1, 0), PaddingMode.Reflect).ToArray<float>());
    }

    [Fact]
    public void PadIfNeededGrowsSmallImages()
    {
        var x = Ramp(1, 3, 3);
        // As torchvision, the whole shortfall (2) goes on both sides, then a 5x5 window of the 7x7 is drawn.
        var padded = ImageFunctional.Pad(x, 2);
        var windows = new HashSet<(int, int)>();
        for (ulong seed = 0; seed < 50; seed++)
        {
            var y = new RandomCrop(5, padIfNeeded: true).Apply(x, new Generator(seed)).ToArray<float>();
            var match = (from i in Enumerable.Range(0, 3) from j in Enumerable.Range(0, 3)
                         where ImageFunctional.Crop(padded, i, j, 5, 5).ToArray<float>().SequenceEqual(y) select (i, j)).ToList();
            Assert.Single(match);
            windows.Add(match[0]);
        }
        Assert.Equal(9, windows.Count);
        var e = Assert.Throws<ArgumentException>(() => new RandomCrop(5).Apply(x, new Generator(1)));
        Assert.Contains("RandomCrop: the crop 5x5 is larger than the padded images 3x3", e.Message);
    }

    [Fact]
    public void TranslationMovesContentByWholePixels()
    {
        // F.affine translate (2, -1): two columns right, one row up.
        Assert.Equal((3, 6), Brightest(ImageFunctional.Affine(Dot(4, 4, 10, 10), 0, (2, -1), 1, (0, 0))));
        var t = new RandomAffine(0, translate: (0.2, 0.2));
        var seen = new HashSet<(int, int)>();
        var x = Dot(5, 5, 10, 10);
        for (ulong seed = 0; seed < 100; seed++)
        {
            var y = t.Apply(x, new Generator(seed));
            var (r, c) = Brightest(y);
            Assert.InRange(r - 5, -2, 2);
            Assert.InRange(c - 5, -2, 2);
            var v = y.ToArray<float>();
            Assert.Equal(1f, v[r * 10 + c], 5); // whole-pixel shifts keep the dot sharp
            Assert.Equal(1f, v.Sum(), 4);
            seen.Add((r - 5, c - 5));
        }
        Assert.True(seen.Count >= 15, $"only {seen.Count} distinct translations in 100 draws");
    }

    [Fact]
    public void ScaleAndShearKeepTheCentre()
    {
        var x = Dot(4, 4, 9, 9);
        var zoom = new RandomAffine(0, scale: (1.5, 1.5)).Apply(x, new Generator(1));
        Assert.Equal((4, 4), Brightest(zoom));
        var sheared = new RandomAffine(0, shearX: (20, 20)).Apply(x, new Generator(1));
        Assert.Equal(1f, sheared.ToArray<float>()[4 * 9 + 4], 5);
        // Zooming in 2x spreads a dot over neighbours; zooming out keeps the total mass about 1/4.
        Assert.Equal(0.25, ImageFunctional.Affine(Tensor.Ones(1, 16, 16), 0, (0, 0), 0.5, (0, 0)).ToArray<float>().Average(), 2);
    }

    [Fact]
    public void ResizeKeepsConstantsAndMatchesTheSmallerEdgeRule()
    {
        var c = Tensor.Full([2, 1, 5, 7], 0.7);
        foreach (var (h, w) in new[] { (9, 12), (3, 4), (5, 7), (1, 1), (28, 28) })
            Assert.All(ImageFunctional.Resize(c, h, w).ToArray<float>(), v => Assert.Equal(0.7f, v));
        Assert.Equal([2, 1, 4, 5], new Resize(4).Apply(c).Shape.ToArray()); // smaller edge 5 -> 4, 7 -> int(4 * 7 / 5) = 5
        Assert.Equal([2, 1, 6, 6], new Resize((6, 6)).Apply(c).Shape.ToArray());
        var x = Ramp(1, 6, 6);
        Assert.Equal(x.ToArray<float>(), new Resize(6).Apply(x).ToArray<float>()); // same size: identity
        // A horizontal ramp upsampled 2x, by hand: src = (o + 0.5) / 2 - 0.5, clamped to the ends.
        var ramp = Tensor.From([0f, 1, 2, 3], 1, 1, 4);
        AssertClose([0f, 0.25f, 0.75f, 1.25f, 1.75f, 2.25f, 2.75f, 3f], ImageFunctional.Resize(ramp, 1, 8).ToArray<float>(), 1e-6, "ramp");
    }

    [Fact]
    public void CenterCropTakesTheMiddleWithTorchvisionRounding()
    {
        var x = Ramp(1, 5, 6);
        Assert.Equal([9f, 10, 11, 15, 16, 17, 21, 22, 23], new CenterCrop(3).Apply(x).ToArray<float>()); // top 1, left round(1.5) = 2 (half to even)
        var big = new CenterCrop((7, 8)).Apply(x).ToArray<float>();
        Assert.Equal(0f, big[0]);
        Assert.Equal(1f, big[8 + 1]); // padded by 1 on each side
    }

    [Fact]
    public void RandomResizedCropWindowsRespectScaleAndFallBackToTheCentre()
    {
        var x = RandomImages(4);
        // The whole image at ratio 1: the identity.
        Assert.Equal(x.ToArray<float>(), new RandomResizedCrop(28, scale: (1, 1), ratio: (1, 1)).Apply(x, new Generator(1)).ToArray<float>());
        // A ratio no window of full area can reach: every attempt fails, so the central 14x28 band (ratio 2) is used.
        var fallback = new RandomResizedCrop(28, scale: (1, 1), ratio: (2, 3)).Apply(x, new Generator(1));
        Assert.Equal(ImageFunctional.ResizedCrop(x, 7, 0, 14, 28, 28, 28).ToArray<float>(), fallback.ToArray<float>());

        var t = new RandomResizedCrop(28, scale: (0.3, 0.6));
        for (int n = 0; n < 200; n++)
        {
            var draws = new RandomDraws(new Generator((ulong)n), 1, 40);
            var (top, left, h, w) = t.Window(draws, 0, 28, 28);
            Assert.True(top >= 0 && left >= 0 && top + h <= 28 && left + w <= 28, $"window ({top}, {left}, {h}, {w}) leaves the image");
            double area = h * w / 784.0;
            Assert.InRange(area, 0.3 * 0.8, 0.6 * 1.2); // rounding each side to whole pixels moves the area a little
            Assert.InRange(w / (double)h, 0.7, 1.45);
        }
        Assert.Equal([3, 1, 16, 20], new RandomResizedCrop((16, 20)).Apply(RandomImages(3), new Generator(2)).Shape.ToArray());
    }

    // ---- erasing ----

    [Fact]
    public void RandomErasingErasesOneRectangleWithinTheScaleBounds()
    {
        var ones = Tensor.Ones(200, 1, 28, 28);
        var t = new RandomErasing(p: 1, scale: (0.05, 0.2), ratio: (0.5, 2));
        var y = t.Apply(ones, new Generator(42));
        for (int n = 0; n < 200; n++)
        {
            var v = y[n, 0].ToArray<float>();
            int count = 0, top = 28, left = 28, bottom = -1, right = -1;
            for (int i = 0; i < v.Length; i++)
            {
                if (v[i] != 0) { Assert.Equal(1f, v[i]); continue; }
                count++;
                (top, left, bottom, right) = (Math.Min(top, i / 28), Math.Min(left, i % 28), Math.Max(bottom, i / 28), Math.Max(right, i % 28));
            }
            int h = bottom - top + 1, w = right - left + 1;
            Assert.Equal(h * w, count); // the erased pixels fill their bounding box: a rectangle
            // h = round(sqrt(A r)), w = round(sqrt(A / r)) with A in [0.05, 0.2] * 784: each side is off by at most 0.5.
            double minA = 0.05 * 784, maxA = 0.2 * 784, slack = 0.5 * (Math.Sqrt(2) + Math.Sqrt(0.5));
            Assert.InRange(count, minA - slack * Math.Sqrt(minA), maxA + slack * Math.Sqrt(maxA) + 0.25);
            Assert.InRange(h / (double)w, 0.5 * 0.7, 2 / 0.7);
        }
        Assert.All(ones.ToArray<float>(), v => Assert.Equal(1f, v)); // the input is untouched
    }

    [Fact]
    public void RandomErasingProbabilityValuesAndNoise()
    {
        var ones = Tensor.Ones(1000, 1, 8, 8);
        var y = new RandomErasing(p: 0.25).Apply(ones, new Generator(5));
        int erased = Enumerable.Range(0, 1000).Count(n => y[n].ToArray<float>().Any(v => v == 0));
        Assert.InRange(erased, 250 - 60, 250 + 60); // sd 13.7
        var rgb = new RandomErasing(p: 1, value: new[] { 0.1f, 0.2f, 0.3f }).Apply(Tensor.Ones(1, 3, 10, 10), new Generator(1));
        for (int c = 0; c < 3; c++)
            Assert.Contains(0.1f * (c + 1), rgb[0, c].ToArray<float>());
        var noisy = new RandomErasing(p: 1, scale: (0.3, 0.3), ratio: (1, 1), randomValues: true).Apply(Tensor.Ones(50, 1, 28, 28), new Generator(3));
        var changed = noisy.ToArray<float>().Where(v => v != 1).ToArray();
        Assert.True(changed.Length > 50 * 200, $"{changed.Length} noisy pixels");
        Assert.Equal(0, changed.Average(), 1);
        Assert.Equal(1, Math.Sqrt(changed.Average(v => v * v)), 1);
    }

    // ---- deterministic values ----

    [Fact]
    public void NormalizeSubtractsTheMeanAndDividesByTheStdPerChannel()
    {
        var x = Tensor.From([1f, 2, 3, 4, 10, 20, 30, 40], 1, 2, 2, 2);
        var y = new Normalize([1f, 10], [2f, 5]).Apply(x).ToArray<float>();
        Assert.Equal([0f, 0.5f, 1, 1.5f, 0, 2, 4, 6], y);
        Assert.Equal([-1f, 1], new Normalize(0.5f, 0.5f).Apply(Tensor.From([0f, 1], 1, 1, 2)).ToArray<float>());
        var e = Assert.Throws<ArgumentException>(() => new Normalize([0f, 0, 0], [1f, 1, 1]).Apply(x));
        Assert.Contains("Normalize: 3 means/stds but the images [1, 2, 2, 2] have 2 channels", e.Message);
        Assert.Contains("non-zero std", Assert.Throws<ArgumentException>(() => new Normalize([0f], [0f])).Message);
        Assert.Equal(x.ToArray<float>(), new Normalize(0, 1).Apply(x).ToArray<float>());
    }

    [Fact]
    public void ToTensorMovesChannelsFirstAndScalesBytes()
    {
        byte[] rgb = [0, 128, 255, 10, 20, 30]; // 1x2 pixels, 3 channels, interleaved
        var t = ToTensor.FromBytes(rgb, 1, 2, 3);
        Assert.Equal([3, 1, 2], t.Shape.ToArray());
        Assert.Equal([0f, 10 / 255f, 128 / 255f, 20 / 255f, 1, 30 / 255f], t.ToArray<float>());
        var gray = ToTensor.FromImage(new Image(3, 2, 1, [0, 51, 102, 153, 204, 255]));
        Assert.Equal([1, 2, 3], gray.Shape.ToArray());
        Assert.Equal([0f, 0.2f, 0.4f, 0.6f, 0.8f, 1f], gray.ToArray<float>());

        var pixels = Tensor.From(new long[] { 0, 255, 51, 102 }, 2, 2);
        Assert.Equal([0f, 1, 0.2f, 0.4f], new ToTensor().Apply(pixels).ToArray<float>());
        Assert.Equal([1, 2, 2], new ToTensor().Apply(pixels).Shape.ToArray());
        var batch = Tensor.From(Enumerable.Range(0, 24).Select(i => (long)i).ToArray(), 2, 2, 3, 2); // [N, H, W, C]
        var b = new ToTensor().Apply(batch);
        Assert.Equal([2, 2, 2, 3], b.Shape.ToArray());
        Assert.Equal(2 / 255f, b[0][0][0, 1].ToSingle()); // pixel (0, 1), channel 0 of image 0 is element 2
        Assert.Contains("pixel values must be 0..255, got 256", Assert.Throws<ArgumentException>(() => new ToTensor().Apply(Tensor.From(new long[] { 256 }, 1, 1))).Message);
        Assert.Contains("3 bytes do not make a 2x2 image", Assert.Throws<ArgumentException>(() => ToTensor.FromBytes([1, 2, 3], 2, 2)).Message);
    }

    // ---- errors ----

    [Fact]
    public void BadInputsAndParametersAreReportedByName()
    {
        var ints = Tensor.From(new long[] { 1, 2, 3, 4 }, 1, 2, 2);
        Assert.Contains("RandomRotation: expected a float32 image [C, H, W] or batch [N, C, H, W], got int64 [1, 2, 2] (ToTensor",
            Assert.Throws<ArgumentException>(() => new RandomRotation(10).Apply(ints, new Generator(1))).Message);
        Assert.Contains("RandomCrop: fill has 3 values but the image has 1 channels",
            Assert.Throws<ArgumentException>(() => new RandomCrop(5, fill: new[] { 1f, 2, 3 }).Apply(Tensor.Zeros(1, 5, 5), new Generator(1))).Message);
        Assert.Contains("probability p must be in [0, 1], got 1.5", Assert.Throws<ArgumentOutOfRangeException>(() => new RandomHorizontalFlip(1.5)).Message);
        Assert.Contains("RandomAffine: translate fractions must be in [0, 1]", Assert.Throws<ArgumentOutOfRangeException>(() => new RandomAffine(0, translate: (2, 0))).Message);
        Assert.Contains("RandomResizedCrop: scale must be a finite range", Assert.Throws<ArgumentOutOfRangeException>(() => new RandomResizedCrop(8, scale: (1, 0.5))).Message);
        Assert.Contains("Erase: the window at (3, 0) of 3x1 is not inside the images [1, 5, 5]",
            Assert.Throws<ArgumentOutOfRangeException>(() => ImageFunctional.Erase(Tensor.Zeros(1, 5, 5), 3, 0, 3, 1, 0f)).Message);
        Assert.Contains("padding must be non-negative", Assert.Throws<ArgumentException>(() => new RandomCrop(5, padding: -1)).Message);
    }

    // ---- parser ----

    [Fact]
    public void ParserBuildsTheCanonicalPipelineWithFashionMnistDefaults()
    {
        var c = AugmentationParser.Parse("erase, Flip,crop,rotate,affine,resizedcrop", 28, 1);
        Assert.Collection(c.Steps,
            s => Assert.Equal((0.5, 1.0), Assert.IsType<RandomResizedCrop>(s).Scale),
            s =>
            {
                var crop = Assert.IsType<RandomCrop>(s);
                Assert.Equal(new Size2d(28, 28), crop.Size);
                Assert.Equal(new Padding(2), crop.Padding);
            },
            s => Assert.Equal(0.5, Assert.IsType<RandomHorizontalFlip>(s).P),
            s => Assert.Equal((-10.0, 10.0), Assert.IsType<RandomRotation>(s).Degrees),
            s =>
            {
                var affine = Assert.IsType<RandomAffine>(s);
                Assert.Equal((0.1, 0.1), affine.Translate);
                Assert.Equal(0.9, affine.Scale.Min, 12);
                Assert.Equal(1.1, affine.Scale.Max, 12);
                Assert.Equal((0.0, 0.0), affine.Degrees);
            },
            s => Assert.Equal(0.25, Assert.IsType<RandomErasing>(s).P));
        var y = c.Apply(RandomImages(64), new Generator(1));
        Assert.Equal([64, 1, 28, 28], y.Shape.ToArray());
        Assert.All(y.ToArray<float>(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void ParserTakesValuesAndReportsMistakes()
    {
        var c = AugmentationParser.Parse("rotate:15, crop=4, flip:0.3, erase:1", 32, 3, fill: -0.5f);
        Assert.Equal((-15.0, 15.0), ((RandomRotation)c.Steps[2]).Degrees);
        Assert.Equal(-0.5f, ((RandomRotation)c.Steps[2]).Fill.Value);
        Assert.Equal(new Padding(4), ((RandomCrop)c.Steps[0]).Padding);
        Assert.Equal(0.3, ((RandomHorizontalFlip)c.Steps[1]).P);
        Assert.Equal(new Padding(4), ((RandomCrop)AugmentationParser.Parse("crop", 32, 3).Steps[0]).Padding);
        Assert.Empty(AugmentationParser.Parse("", 28, 1).Steps);
        Assert.Empty(AugmentationParser.Parse("none", 28, 1).Steps);

        var e = Assert.Throws<ArgumentException>(() => AugmentationParser.Parse("flip,blur", 28, 1));
        Assert.Contains("unknown augmentation 'blur'", e.Message);
        Assert.Contains("valid names: resizedcrop, crop, flip, vflip, rotate, affine, erase", e.Message);
        Assert.Contains("'flip' is given twice", Assert.Throws<ArgumentException>(() => AugmentationParser.Parse("flip,flip", 28, 1)).Message);
        Assert.Contains("'rotate' takes a number after ':', got 'ten'", Assert.Throws<ArgumentException>(() => AugmentationParser.Parse("rotate:ten", 28, 1)).Message);
        Assert.Contains("flip:p must be in [0, 1], got 2", Assert.Throws<ArgumentException>(() => AugmentationParser.Parse("flip:2", 28, 1)).Message);
        Assert.Contains("crop:padding must be a whole number", Assert.Throws<ArgumentException>(() => AugmentationParser.Parse("crop:1.5", 28, 1)).Message);
        Assert.Contains("rotate[:degrees]", AugmentationParser.Help);
    }

    // ---- the loader ----

    [Fact]
    public void WorksThroughAPrefetchingDataLoaderReproducibly()
    {
        var inputs = RandomImages(200, seed: 9);
        var ds = new TensorDataset(inputs, Tensor.Arange(200).To(DType.Int64));
        var augment = AugmentationParser.Parse("flip,crop,rotate,erase", 28, 1);
        List<(float[], long[])> Run(int prefetch)
        {
            var loader = new DataLoader(ds, 32, shuffle: true, generator: new Generator(77), transform: augment, prefetch: prefetch);
            return loader.Select(b => (b.Input.ToArray<float>(), b.Target.ToArray<long>())).ToList();
        }
        var a = Run(2);
        var b = Run(2);
        var sync = Run(0);
        Assert.Equal(7, a.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].Item1, b[i].Item1);
            Assert.Equal(a[i].Item1, sync[i].Item1); // prefetching does not change the augmentation
            Assert.Equal(a[i].Item2, sync[i].Item2);
        }
        // The batches are augmented: no example comes out as it went in (rotation alone changes every pixel grid).
        var raw = inputs.ToArray<float>();
        var (first, targets) = a[0];
        for (int k = 0; k < targets.Length; k++)
            Assert.NotEqual(raw.AsSpan((int)targets[k] * 784, 784).ToArray(), first.AsSpan(k * 784, 784).ToArray());
        // A second epoch draws new augmentations.
        var loader2 = new DataLoader(ds, 32, generator: new Generator(77), transform: augment);
        var e1 = loader2.First().Input.ToArray<float>();
        var e2 = loader2.First().Input.ToArray<float>();
        Assert.NotEqual(e1, e2);
    }
}
