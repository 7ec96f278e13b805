// ImageFolderCnn: train a small convolutional network of your own on a folder of images, one sub-folder per class
// (photos/cat/1.jpg, photos/dog/7.png, ...), the layout torchvision's ImageFolder reads.
//
//   dotnet run -c Release -- photos/          your own folder (JPEG, PNG, BMP, GIF, ...)
//   dotnet run -c Release                     generates a folder of striped pictures in 4 classes first and trains on it
//   dotnet run -c Release -- --quick          fewer pictures and epochs (CI); still checks the network learnt
using DeepSharp;
using DeepSharp.Data;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Training;

bool quick = args.Contains("--quick");
string folder = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal))
    ?? GenerateStripes(Path.Combine(Path.GetTempPath(), "deepsharp-stripes"), perClass: quick ? 100 : 300);

// Every image is scaled (shorter side) and centre-cropped to 32x32 RGB, values in [0, 1], label = class folder index.
var images = new ImageFolderDataset(folder, new ImageFolderOptions { ImageSize = 32, Channels = 3 });
Console.WriteLine($"{images.Count} images in {images.Classes.Count} classes ({string.Join(", ", images.Classes)}) from {folder}");

// 80 % to train on, 20 % held out to measure accuracy on pictures the network never saw.
var generator = new Generator(seed: 7);
var split = Datasets.RandomSplit(images, [0.8, 0.2], generator);
var train = new DataLoader(split[0], batchSize: 32, shuffle: true, generator: generator);
var test = new DataLoader(split[1], batchSize: 64);

var model = new SmallCnn(images.Classes.Count, generator);
Console.WriteLine($"SmallCnn: {model.ParameterCount:N0} parameters");
var trainer = new Trainer(model, (logits, labels) => Functional.CrossEntropy(logits, labels),
    new Adam(model.Parameters(), new AdamOptions(Lr: 2e-3)),
    new TrainerOptions { Reporter = new ConsoleReporter() });   // one line per epoch

double before = trainer.Evaluate(test).Accuracy ?? 0;
var history = trainer.Fit(train, validation: test, epochs: quick ? 12 : 20);
var result = trainer.Evaluate(test);
Console.WriteLine($"held-out accuracy: {before:P1} before training, {result.Accuracy:P1} after {history.Epochs.Count} epochs ({history.WallSeconds:F1} s)");

// Chance is 1/classes; a network that learnt the stripes is far above it (95-99 % on the generated stripes after 20 epochs).
double chance = 1.0 / images.Classes.Count;
if (result.Accuracy is not double accuracy || accuracy < Math.Min(0.9, 2 * chance))
{
    Console.Error.WriteLine($"FAIL: accuracy {result.Accuracy:P1} is not clearly above chance ({chance:P0})");
    return 1;
}
return 0;

// Writes perClass PNG pictures of each of 4 classes: horizontal, vertical, diagonal and checkerboard stripes with a
// random period, phase and two random colours, plus pixel noise. Returns the folder.
static string GenerateStripes(string root, int perClass)
{
    string[] classes = ["horizontal", "vertical", "diagonal", "checker"];
    var random = new Random(12345);
    foreach (var name in classes)
    {
        var dir = Path.Combine(root, name);
        if (Directory.Exists(dir) && Directory.GetFiles(dir, "*.png").Length == perClass) continue;   // made before
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        for (int i = 0; i < perClass; i++)
        {
            const int Size = 40;
            int period = random.Next(4, 12), phase = random.Next(period);
            byte[] a = RandomColour(random), b = RandomColour(random);
            var pixels = new byte[Size * Size * 3];            // interleaved RGB, row by row
            for (int y = 0; y < Size; y++)
                for (int x = 0; x < Size; x++)
                {
                    int band = name switch
                    {
                        "horizontal" => (y + phase) / period,
                        "vertical" => (x + phase) / period,
                        "diagonal" => (x + y + phase) / period,
                        _ => (x + phase) / period + (y + phase) / period,
                    };
                    var colour = band % 2 == 0 ? a : b;
                    for (int c = 0; c < 3; c++)
                        pixels[(y * Size + x) * 3 + c] = (byte)Math.Clamp(colour[c] + random.Next(-20, 21), 0, 255);
                }
            new Image(Size, Size, 3, pixels).SavePng(Path.Combine(dir, $"{i:D4}.png"));
        }
    }
    return root;
}

static byte[] RandomColour(Random random) => [(byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)];

/// <summary>
/// A network of our own: two convolution blocks (3x3 convolution, ReLU, 2x2 max-pooling) that find edges and then
/// stripes, and a linear classifier on the 8x8 feature maps. Any Module with parameters registered this way trains,
/// saves and loads like the built-in models.
/// </summary>
sealed class SmallCnn : Module<Tensor, Tensor>
{
    private readonly Conv2d _conv1, _conv2;
    private readonly MaxPool2d _pool = new(2);
    private readonly Linear _classifier;

    public SmallCnn(int classes, Generator generator)
    {
        _conv1 = RegisterModule("conv1", new Conv2d(3, 16, kernelSize: 3, padding: 1, generator: generator));   // 32x32 -> 32x32
        _conv2 = RegisterModule("conv2", new Conv2d(16, 32, kernelSize: 3, padding: 1, generator: generator));  // 16x16 -> 16x16
        _classifier = RegisterModule("classifier", new Linear(32 * 8 * 8, classes, generator: generator));
    }

    public override Tensor Forward(Tensor input)                       // input [N, 3, 32, 32]
    {
        var x = _pool.Forward(_conv1.Forward(input).Relu());             // [N, 16, 16, 16]
        x = _pool.Forward(_conv2.Forward(x).Relu());                     // [N, 32, 8, 8]
        return _classifier.Forward(x.Flatten(1));                        // [N, classes] logits
    }
}
