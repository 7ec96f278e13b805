// CartPole: a policy-gradient agent (REINFORCE with normalised returns) that learns to balance a pole on a cart.
// The environment is the classic cart-pole of Barto, Sutton & Anderson (1983), written below exactly as Gym's
// CartPole-v1: 4 state variables, 2 actions, Euler steps of 0.02 s, failure when |x| > 2.4 or |theta| > 12 degrees,
// at most 500 steps, reward 1 per step. Solved means an average return of at least 475 over 100 episodes.
//
//   dotnet run -c Release              train until the last 100 episodes average >= 475, then evaluate 100 fresh ones
//   dotnet run -c Release -- --quick   a few seconds of training; checks the agent beats a random policy
//   options: --seed N, --max-episodes N
using System.Diagnostics;
using DeepSharp;
using DeepSharp.NN;
using DeepSharp.Optim;

bool quick = args.Contains("--quick");
ulong seed = ulong.Parse(Option("--seed") ?? "1");
int maxEpisodes = int.Parse(Option("--max-episodes") ?? (quick ? "150" : "3000"));
const double Gamma = 0.99;             // discount of future rewards
const double Solved = 475;             // CartPole-v1's reward threshold

var random = new Random((int)seed);   // environment starts and action sampling
var env = new CartPoleEnv(random);

// The policy: state (4 numbers) -> a hidden layer -> logits of the two actions (push left, push right).
var policy = new Sequential(
    new Linear(4, 128, generator: new Generator(seed)),
    new Relu(),
    new Linear(128, 2, generator: new Generator(seed + 1)));
var optimizer = new Adam(policy.Parameters(), new AdamOptions(Lr: double.Parse(Option("--lr") ?? "2e-3")));

var watch = Stopwatch.StartNew();
var recent = new Queue<int>();          // returns of the last 100 training episodes
int episode = 0;
double firstReturns = 0;                // mean return of the first 20 episodes, to compare with in --quick
while (episode < maxEpisodes)
{
    // 1. Play one episode with the current (stochastic) policy, remembering states, actions and rewards.
    var (states, actions) = (new List<float[]>(), new List<long>());
    var state = env.Reset();
    bool done = false;
    while (!done)
    {
        int action = SampleAction(policy, state, random, greedy: false);
        states.Add(state);
        actions.Add(action);
        (state, done) = env.Step(action);
    }
    int length = states.Count;          // reward 1 per step, so the return is the episode length
    episode++;
    recent.Enqueue(length);
    if (recent.Count > 100) recent.Dequeue();
    if (episode <= 20) firstReturns += length / 20.0;

    // 2. Discounted return G_t = r_t + gamma r_{t+1} + ... for every step, then normalised (a baseline that
    //    also keeps the step size steady whatever the episode length).
    var returns = new float[length];
    double g = 0;
    for (int t = length - 1; t >= 0; t--) returns[t] = (float)(g = 1 + Gamma * g);
    double mean = returns.Average(), std = Math.Sqrt(returns.Average(r => (r - mean) * (r - mean))) + 1e-8;
    for (int t = 0; t < length; t++) returns[t] = (float)((returns[t] - mean) / std);

    // 3. REINFORCE: raise the log-probability of each action taken in proportion to its normalised return.
    //    One batched forward over the whole episode; minimising -sum(G_t log pi(a_t|s_t)) ascends the return.
    var stateBatch = Tensor.From(states.SelectMany(s => s).ToArray(), length, 4);
    var logProbs = policy.Forward(stateBatch).LogSoftmax(-1)
        .Gather(1, Tensor.From(actions.ToArray(), length, 1)).Reshape(length);
    var loss = -(logProbs * Tensor.From(returns, length)).Sum();
    optimizer.ZeroGrad();
    loss.Backward();
    optimizer.Step();

    double average = recent.Average();
    if (episode % 50 == 0) Console.WriteLine($"episode {episode,5}  return {length,3}  average of last {recent.Count}: {average,6:F1}  ({watch.Elapsed.TotalSeconds:F0} s)");
    if (recent.Count == 100 && average >= Solved)
    {
        Console.WriteLine($"solved after {episode} episodes: the last 100 averaged {average:F1} ({watch.Elapsed.TotalSeconds:F1} s)");
        break;
    }
}
double trainSeconds = watch.Elapsed.TotalSeconds;

// 4. Evaluate 100 fresh episodes, acting greedily (the more probable action), with no learning.
int evalEpisodes = quick ? 20 : 100;
double evalTotal = 0;
for (int e = 0; e < evalEpisodes; e++)
{
    var state = env.Reset();
    int length = 0;
    for (bool done = false; !done; length++) (state, done) = env.Step(SampleAction(policy, state, random, greedy: true));
    evalTotal += length;
}
double evalAverage = evalTotal / evalEpisodes;
Console.WriteLine($"evaluation: average return {evalAverage:F1} over {evalEpisodes} episodes (greedy policy)");
Console.WriteLine($"training: {episode} episodes in {trainSeconds:F1} s; total {watch.Elapsed.TotalSeconds:F1} s; seed {seed}");

// --quick trains for seconds only: it must at least have learnt something (a random policy averages about 22).
if (quick ? evalAverage < 2 * firstReturns : evalAverage < Solved)
{
    Console.Error.WriteLine(quick ? $"FAIL: evaluation {evalAverage:F1} is not twice the first episodes' {firstReturns:F1}"
                                  : $"FAIL: evaluation average {evalAverage:F1} is below {Solved}");
    return 1;
}
return 0;

string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

// Runs the policy on one state without recording gradients; samples an action from its probabilities or takes the best.
static int SampleAction(Sequential policy, float[] state, Random random, bool greedy)
{
    using var noGrad = Autograd.NoGrad();
    var probabilities = policy.Forward(Tensor.From(state, 1, 4)).Softmax(-1).ToArray<float>();
    if (greedy) return probabilities[1] > probabilities[0] ? 1 : 0;
    return random.NextDouble() < probabilities[0] ? 0 : 1;
}

/// <summary>The cart-pole system with Gym CartPole-v1's constants, equations of motion and termination.</summary>
sealed class CartPoleEnv(Random random)
{
    const double Gravity = 9.8, CartMass = 1.0, PoleMass = 0.1, TotalMass = CartMass + PoleMass;
    const double HalfLength = 0.5, PoleMassLength = PoleMass * HalfLength, ForceMagnitude = 10.0, Tau = 0.02;
    const double XThreshold = 2.4, ThetaThreshold = 12 * 2 * Math.PI / 360;
    const int MaxSteps = 500;

    double _x, _xDot, _theta, _thetaDot;
    int _steps;

    /// <summary>Starts a new episode: every state variable uniform in [-0.05, 0.05].</summary>
    public float[] Reset()
    {
        (_x, _xDot, _theta, _thetaDot, _steps) = (Uniform(), Uniform(), Uniform(), Uniform(), 0);
        return Observation();
    }

    /// <summary>Pushes the cart left (0) or right (1) for one time step; done when the pole falls, the cart leaves the track or 500 steps pass.</summary>
    public (float[] State, bool Done) Step(int action)
    {
        double force = action == 1 ? ForceMagnitude : -ForceMagnitude;
        double cos = Math.Cos(_theta), sin = Math.Sin(_theta);
        double temp = (force + PoleMassLength * _thetaDot * _thetaDot * sin) / TotalMass;
        double thetaAcc = (Gravity * sin - cos * temp) / (HalfLength * (4.0 / 3.0 - PoleMass * cos * cos / TotalMass));
        double xAcc = temp - PoleMassLength * thetaAcc * cos / TotalMass;
        // Explicit Euler, in Gym's order.
        _x += Tau * _xDot;
        _xDot += Tau * xAcc;
        _theta += Tau * _thetaDot;
        _thetaDot += Tau * thetaAcc;
        _steps++;
        bool failed = _x < -XThreshold || _x > XThreshold || _theta < -ThetaThreshold || _theta > ThetaThreshold;
        return (Observation(), failed || _steps >= MaxSteps);
    }

    float[] Observation() => [(float)_x, (float)_xDot, (float)_theta, (float)_thetaDot];

    double Uniform() => random.NextDouble() * 0.1 - 0.05;
}
