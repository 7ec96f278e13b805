namespace DeepSharp.Inference;

/// <summary>
/// A module with a forward of its own (not a Sequential of layers) describes that forward to the planner here, step
/// by step as its Forward computes it: <c>plan.Call(layer, x)</c> for each child, <see cref="PlanBuilder.Add"/> for a
/// residual sum, <see cref="PlanBuilder.Flatten"/> for a reshape. Modules without it run eagerly inside a plan.
/// </summary>
internal interface IInferencePlannable
{
    PlanValue Plan(PlanBuilder plan, PlanValue input);
}
