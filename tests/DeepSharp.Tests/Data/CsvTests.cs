using DeepSharp.Data;
using DeepSharp.Tests.Serialization;

namespace DeepSharp.Tests.Data;

public sealed class CsvTests
{
    private static CsvDataset Parse(string text, CsvOptions? options = null) => CsvDataset.Parse(new StringReader(text), "iris.csv", options);

    private static string Reject(string text, CsvOptions? options = null) =>
        Assert.Throws<InvalidDataException>(() => Parse(text, options)).Message;

    private const string Iris = """
        sepal_length,sepal_width,species,petal_length
        5.1,3.5,setosa,1.4
        7.0,3.2,versicolor,4.7

        6.3,3.3, "virginica" ,6.0
        4.9,3.0,setosa,1.4
        """;

    [Fact]
    public void ParsesFeaturesAndMapsClassLabelsByName()
    {
        var ds = Parse(Iris, new CsvOptions(LabelColumn: "species"));
        Assert.Equal(4, ds.Count);
        Assert.Equal(["sepal_length", "sepal_width", "petal_length"], ds.FeatureNames);
        Assert.Equal("species", ds.LabelName);
        Assert.Equal(["setosa", "versicolor", "virginica"], ds.Classes); // sorted, stable ids
        Assert.Equal([4, 3], ds.Features.Shape.ToArray());
        Assert.Equal(DType.Float32, ds.Features.DType);
        Assert.Equal([5.1f, 3.5f, 1.4f], ds.Features[0].ToArray<float>());
        Assert.Equal([6.3f, 3.3f, 6.0f], ds.Features[2].ToArray<float>());
        Assert.Equal([0L, 1, 2, 0], ds.Targets.ToArray<long>());
        var (x, y) = ds.GetBatch([3, 1]);
        Assert.Equal([4.9f, 3.0f, 1.4f, 7.0f, 3.2f, 4.7f], x.ToArray<float>());
        Assert.Equal([0L, 1], y.ToArray<long>());
    }

    [Fact]
    public void WithoutHeaderColumnsAreNamedByIndexAndNumericClassesSortNumerically()
    {
        var ds = Parse("1,2,10\n3,4,2\n5,6,10\n7,8,1\n", new CsvOptions(HasHeader: false));
        Assert.Equal(["0", "1"], ds.FeatureNames);
        Assert.Equal(["1", "2", "10"], ds.Classes);
        Assert.Equal([2L, 1, 2, 0], ds.Targets.ToArray<long>());

        var first = Parse("9,1.5,2.5\n8,3.5,4.5\n", new CsvOptions(LabelColumn: "0", HasHeader: false));
        Assert.Equal(["1", "2"], first.FeatureNames);
        Assert.Equal([1.5f, 2.5f, 3.5f, 4.5f], first.Features.ToArray<float>());
    }

    [Fact]
    public void RegressionTargetsAreFloat32()
    {
        var ds = Parse("x1;x2;price\n1;2;3.5\n4;5;-6e2\n", new CsvOptions(Task: CsvTask.Regression, Delimiter: ';'));
        Assert.Equal(DType.Float32, ds.Targets.DType);
        Assert.Equal([3.5f, -600f], ds.Targets.ToArray<float>());
        Assert.Empty(ds.Classes);
    }

    [Fact]
    public void TestSplitReusesTheTrainingClassesAndRejectsUnknownOnes()
    {
        var train = Parse(Iris, new CsvOptions(LabelColumn: "species"));
        var test = Parse("sepal_length,sepal_width,species,petal_length\n1,2,virginica,3\n", new CsvOptions("species", Classes: train.Classes));
        Assert.Equal([2L], test.Targets.ToArray<long>());
        string message = Reject("sepal_length,sepal_width,species,petal_length\n1,2,virginica,3\n1,2,daisy,3\n", new CsvOptions("species", Classes: train.Classes));
        Assert.Contains("line 3, column 'species': unknown class 'daisy'", message);
    }

    [Fact]
    public void NormalisationStatisticsComeFromTheTrainingSplitOnly()
    {
        var train = Parse("a,b,y\n1,10,0\n3,10,1\n5,10,0\n");
        var test = Parse("a,b,y\n7,20,1\n", new CsvOptions(Classes: train.Classes));
        var stats = Standardizer.Fit(train.Features);
        Assert.Equal([3f, 10f], stats.Mean.ToArray());
        float std = (float)Math.Sqrt(8.0 / 3); // population std of 1, 3, 5
        Assert.Equal(std, stats.Std[0], 6);
        Assert.Equal(1f, stats.Std[1]); // constant feature: std 1 instead of a division by zero

        var trainN = train.Normalize(stats);
        Assert.Equal(-2 / std, trainN.Features[0].ToArray<float>()[0], 5);
        var testN = test.Normalize(stats); // the test split is scaled with the training statistics
        Assert.Equal([(7 - 3) / std, 10f], testN.Features[0].ToArray<float>(), (a, b) => Math.Abs(a - b) < 1e-5);
        Assert.Equal(test.Targets.ToArray<long>(), testN.Targets.ToArray<long>());
    }

    [Fact]
    public void StandardizerFitsASubsetAndWorksAsALoaderTransform()
    {
        var ds = new TensorDataset(Tensor.From(new float[] { 0, 100, 2, 100, 4, 100, 1000, -5 }, 4, 2), Tensor.Zeros([4], DType.Int64));
        var subset = new Subset(ds, [0, 1, 2]);
        var stats = Standardizer.Fit(subset);
        Assert.Equal([2f, 100f], stats.Mean.ToArray()); // row 3 (not in the split) does not leak in
        var loader = new DataLoader(ds, 4, transform: stats);
        var (x, _) = loader.First();
        Assert.Equal(0f, x[1].ToArray<float>()[0], 6);
    }

    [Fact]
    public void MalformedRowsNameTheFileLineAndColumn()
    {
        Assert.Contains("CSV 'iris.csv', line 3: expected 3 columns (as in the header), found 2", Reject("a,b,y\n1,2,0\n3,4\n"));
        Assert.Contains("line 2: expected 3 columns (as in the header), found 4", Reject("a,b,y\n1,2,0,9\n"));
        Assert.Contains("line 4, column 'b': 'x7' is not a number", Reject("a,b,y\n1,2,0\n\n3,x7,1\n"));
        Assert.Contains("line 2, column 'a': empty value", Reject("a,b,y\n,2,0\n"));
        Assert.Contains("line 2, column 'a': 'NaN' is not a finite number", Reject("a,b,y\nNaN,2,0\n"));
        Assert.Contains("line 2, column 'y': 'cat' is not a number", Reject("a,b,y\n1,2,cat\n", new CsvOptions(Task: CsvTask.Regression)));
        Assert.Contains("line 2: unterminated quoted field in column 2", Reject("a,b,y\n1,2,\"oops\n"));
        Assert.Contains("the file is empty", Reject(""));
        Assert.Contains("the file is empty", Reject("\n  \n"));
        Assert.Contains("no data rows after the header on line 1", Reject("a,b,y\n"));
        Assert.Contains("header names column 'a' twice", Reject("a,a,y\n1,2,3\n"));
        Assert.Contains("set HasHeader: true", Reject("a,b,y\n1,2,3\n", new CsvOptions(HasHeader: false)));
        var e = Assert.Throws<ArgumentException>(() => Parse("a,b,y\n1,2,3\n", new CsvOptions("label")));
        Assert.Contains("no column named 'label' (columns: a, b, y)", e.Message);
    }

    [Fact]
    public void LoadsFromAFileAndErrorsNameIt()
    {
        using var dir = new TempDir();
        string path = dir.File("data.csv");
        File.WriteAllText(path, "f,label\n0.5,yes\n1.5,no\n");
        var ds = CsvDataset.Load(path);
        Assert.Equal(["no", "yes"], ds.Classes);
        Assert.Equal([1L, 0], ds.Targets.ToArray<long>());
        File.WriteAllText(path, "f,label\n0.5,yes\n1.5\n");
        var e = Assert.Throws<InvalidDataException>(() => CsvDataset.Load(path));
        Assert.Contains($"CSV '{path}', line 3", e.Message);
    }

    [Fact]
    public void ValuesBeyondTheFloat32RangeAreAnErrorNamingLineAndColumn()
    {
        // These loaded as +-Infinity without a word: finite as doubles, not as float32.
        Assert.Contains("line 3, column 'b': '1e39' is outside the float32 range", Reject("a,b,label\n1,2,x\n3,1e39,y\n"));
        Assert.Contains("line 2, column 'a': '-3.5e38' is outside the float32 range", Reject("a,b,label\n-3.5e38,2,x\n"));
        Assert.Contains("line 2, column 'y': '4e38' is outside the float32 range",
            Reject("x,y\n1,4e38\n", new CsvOptions(Task: CsvTask.Regression)));
        // The largest float32 (and what rounds to it) still loads; so do tiny values, which round towards 0.
        var ds = Parse("a,label\n3.4028235e38,x\n-3.4028234e38,x\n1e-50,x\n");
        Assert.Equal([float.MaxValue, -float.MaxValue, 0f], ds.Features.ToArray<float>());
    }
}
