/// The norm that bounds an attack's perturbation `δ = x′ − x`: `‖δ‖∞ = maxᵢ |δᵢ|` or
/// `‖δ‖₂ = (Σᵢ δᵢ²)^{1/2}`.
public enum AttackNorm: String, Sendable, CaseIterable {
    case linf, l2
}
