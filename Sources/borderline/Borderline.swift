import ArgumentParser
import BorderlineCore
import BorderlineHost

@main
struct Borderline: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Analyse the decision boundaries of trained classifiers.")
    func run() throws { print(BLAS.coreName) }
}
