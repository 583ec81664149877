/// What an attack tries to achieve for each row: any wrong class (untargeted), or one chosen
/// class per row (targeted).
public enum AttackGoal: Sendable, Equatable {
    /// Row `n` succeeds when the adversarial's predicted class differs from `labels[n]`.
    case untargeted
    /// Row `n` succeeds when the adversarial is classified as `targets[n]` (one target per row).
    case targeted([Int])

    /// The class each row is steered towards (targeted) or away from (untargeted), after checking
    /// the targets: one per row, each in `0..<classCount`.
    func steeringClasses(labels: [Int], classCount: Int) throws -> [Int] {
        switch self {
        case .untargeted:
            return labels
        case .targeted(let targets):
            guard targets.count == labels.count else {
                throw BorderlineError(.invalidArgument, "targeted attack: \(targets.count) targets for \(labels.count) inputs; give one target per input")
            }
            if let bad = targets.first(where: { $0 < 0 || $0 >= classCount }) {
                throw BorderlineError(.invalidArgument, "targeted attack: target class \(bad) is outside 0..<\(classCount)")
            }
            return targets
        }
    }

    var isTargeted: Bool {
        if case .targeted = self { return true }
        return false
    }

    /// Whether a prediction counts as a success for row `row`.
    func isSuccess(prediction: Int, row: Int, labels: [Int]) -> Bool {
        switch self {
        case .untargeted: return prediction != labels[row]
        case .targeted(let targets): return prediction == targets[row]
        }
    }
}
