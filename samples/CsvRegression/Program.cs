// CsvRegression: predict a number from the other columns of a CSV file, first with a linear model, then with a
// small multi-layer perceptron, and compare their errors (RMSE) on rows held out from training.
//
//   dotnet run -c Release -- data.csv [label-column]   your own file: a header row, numeric columns; label = last column by default
//   dotnet run -c Release                              writes a generated houses.csv first (price from size, rooms, age, distance)
//   dotnet run -c Release -- --quick                   fewer rows and epochs (CI); still checks the MLP beats the mean
using DeepSharp;
using DeepSharp.Data;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Training;

bool quick = args.Contains("--quick");
var positional = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
string path = positional.Length > 0 ? positional[0] : WriteHouses(Path.Combine(Path.GetTempPath(), "deepsharp-houses.csv"), rows: quick ? 2000 : 5000);

// Every column but the label is a float32 feature; the label column is read as a float32 target (regression).
var table = CsvDataset.Load(path, new CsvOptions(LabelColumn: positional.Length > 1 ? positional[1] : null, Task: CsvTask.Regression));
Console.WriteLine($"{table.Count} rows from {path}: predict '{table.LabelName}' from {string.Join(", ", table.FeatureNames)}");

// Hold out 20 % of the rows. Features are standardised with the TRAINING rows' mean and deviation only.
var generator = new Generator(seed: 3);
var split = Datasets.RandomSplit(table, [0.8, 0.2], generator);
var standardizer = Standardizer.Fit(split[0]);
var train = new DataLoader(split[0], batchSize: 64, shuffle: true, generator: generator, transform: standardizer);
var test = new DataLoader(split[1], batchSize: 256, transform: standardizer);

// Baseline: always predicting the training mean; its RMSE is the targets' standard deviation on the test rows.
double targetMean = Targets(split[0]).Average();
var testTargets = Targets(split[1]);
double baseline = Math.Sqrt(testTargets.Average(t => (t - targetMean) * (t - targetMean)));
Console.WriteLine($"predicting the mean ({targetMean:F3}): RMSE {baseline:F4}");

int features = table.FeatureNames.Count, epochs = quick ? 30 : 100;
// A linear model: one Linear layer, price = w . x + b.
double linear = Fit("linear", new Sequential(new Linear(features, 1, generator: generator)), epochs);
// An MLP: two hidden layers of 64 ReLU units can follow the curved parts of the relationship.
double mlp = Fit("MLP", new Sequential(
    new Linear(features, 64, generator: generator), new Relu(),
    new Linear(64, 64, generator: generator), new Relu(),
    new Linear(64, 1, generator: generator)), epochs);

if (!(mlp < 0.5 * baseline))
{
    Console.Error.WriteLine($"FAIL: the MLP's RMSE {mlp:F4} is not below half of the mean predictor's {baseline:F4}");
    return 1;
}
Console.WriteLine($"test RMSE: mean {baseline:F4}, linear {linear:F4}, MLP {mlp:F4}");
return 0;

// Trains a model with mean squared error and Adam; returns the root mean squared error on the test rows.
double Fit(string name, Sequential model, int epochs)
{
    // The model gives [N, 1]; the targets are [N].
    Tensor Loss(Tensor output, Tensor target) => Functional.MseLoss(output.Reshape(-1), target);
    var trainer = new Trainer(model, Loss, new Adam(model.Parameters(), new AdamOptions(Lr: 1e-2)));
    double first = Math.Sqrt(trainer.Evaluate(test).Loss);
    var history = trainer.Fit(train, epochs: epochs);
    double rmse = Math.Sqrt(trainer.Evaluate(test).Loss);
    Console.WriteLine($"{name,-6} {model.ParameterCount,5} parameters: test RMSE {first:F4} before, {rmse:F4} after {epochs} epochs ({history.WallSeconds:F1} s)");
    return rmse;
}

static float[] Targets(IDataset rows) => Enumerable.Range(0, rows.Count).Select(i => rows.Get(i).Target.Item<float>()).ToArray();

// Writes a made-up table of houses: price (in 100,000s) grows with size and rooms, falls with age and, faster
// than linearly, with distance to the centre, plus noise. Returns the path.
static string WriteHouses(string path, int rows)
{
    var random = new Random(2024);
    using var writer = new StreamWriter(path);
    writer.WriteLine("size_m2,rooms,age_years,distance_km,price");
    for (int i = 0; i < rows; i++)
    {
        double size = 40 + random.NextDouble() * 160, age = random.NextDouble() * 80, distance = random.NextDouble() * 30;
        int rooms = Math.Clamp((int)(size / 30) + random.Next(-1, 2), 1, 8);
        double price = 0.5 + 0.025 * size + 0.15 * rooms - 0.01 * age + 3.0 * Math.Exp(-distance / 5)
                       + 0.4 * Math.Sin(age / 10) + NextGaussian(random) * 0.15;
        writer.WriteLine(FormattableString.Invariant($"{size:F1},{rooms},{age:F1},{distance:F2},{price:F4}"));
    }
    return path;
}

static double NextGaussian(Random random) =>
    Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
