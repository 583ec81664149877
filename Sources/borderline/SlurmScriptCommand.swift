import ArgumentParser
import BorderlineCore
import BorderlineHost
import Foundation

struct SlurmScriptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm-script",
        abstract: "Write Slurm jobs that run a run as N shards (a job array) and merge them (a job that waits for the array).",
        discussion: """
        Writes shards.sbatch (sbatch --array=0-(N-1): task I runs borderline run --config CONFIG --shard I/N \
        --resume SHARDS/I, so a requeued task continues where it stopped), merge.sbatch (borderline merge \
        of the N shard folders) and submit.sh, which submits both, the merge with --dependency=afterok on the \
        array. Then: bash DIR/submit.sh. See docs/scale-out.md.
        """)

    @Option(help: "The run's configuration file (YAML or JSON, the keys of borderline run --config; no 'out' or 'shard').")
    var config: String

    @Option(help: "Number of shards N (array tasks).")
    var shards: Int

    @Option(name: [.customShort("o"), .customLong("out"), .customLong("output")], help: "The merged run folder.")
    var out: String

    @Option(help: "Folder for the scripts and the job logs (default: <out>.slurm).")
    var scripts: String?

    @Option(help: "Folder for the shard run folders <folder>/0 … <folder>/N-1 (default: <out>.shards).")
    var shardFolder: String?

    @Option(help: "Slurm partition.")
    var partition: String?

    @Option(help: "Slurm account.")
    var account: String?

    @Option(help: "Time limit of each shard task, e.g. 2:00:00.")
    var time: String?

    @Option(help: "Time limit of the merge (default: --time).")
    var mergeTime: String?

    @Option(help: "CPUs per task (BORDERLINE_THREADS in the job; default: 2).")
    var cpusPerTask: Int = 2

    @Option(help: "Memory per task, e.g. 16G.")
    var mem: String?

    @Option(name: .customLong("sbatch"), help: "Another #SBATCH line for both jobs, e.g. --sbatch=--qos=long (repeatable).")
    var sbatch: [String] = []

    @Option(help: "The borderline executable the jobs run (default: this one).")
    var executable: String?

    func run() throws {
        guard (1...100_000).contains(shards) else { throw BorderlineError(.invalidArgument, "--shards must be between 1 and 100000, got \(shards)") }
        guard cpusPerTask >= 1 else { throw BorderlineError(.invalidArgument, "--cpus-per-task must be at least 1") }
        let c = try RunConfiguration.load(config)
        if c.out != nil { throw BorderlineError(.invalidArgument, "the configuration names an out folder; slurm-script places the shards and the merged run (--out), so remove it", file: config) }
        if c.shard != nil { throw BorderlineError(.invalidArgument, "the configuration names a shard; slurm-script gives every task its own", file: config) }
        let boundaries = try RunEngine(configuration: c).checkConfiguration()
        func absolute(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.path }
        let outPath = absolute(out)
        let scriptFolder = absolute(scripts ?? outPath + ".slurm")
        // The jobs read a copy, so that editing the file later changes no shard of this run.
        let ext = (config as NSString).pathExtension.isEmpty ? "yaml" : (config as NSString).pathExtension
        let copy = (scriptFolder as NSString).appendingPathComponent("run.\(ext)")
        do {
            try FileManager.default.createDirectory(atPath: scriptFolder, withIntermediateDirectories: true)
            if FileManager.default.fileExists(atPath: copy) { try FileManager.default.removeItem(atPath: copy) }
            try FileManager.default.copyItem(atPath: config, toPath: copy)
        } catch {
            throw BorderlineError(.ioFailure, "cannot copy the configuration beside the scripts: \(error.localizedDescription)", file: scriptFolder)
        }
        let exe = executable.map(absolute) ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().standardizedFileURL.path
        var script = SlurmScript(configuration: copy, shards: shards, out: outPath, shardFolder: absolute(shardFolder ?? outPath + ".shards"),
                                 executable: exe, workingDirectory: FileManager.default.currentDirectoryPath,
                                 logFolder: (scriptFolder as NSString).appendingPathComponent("logs"))
        script.jobName = "borderline-" + URL(fileURLWithPath: outPath).lastPathComponent
        script.partition = partition
        script.account = account
        script.time = time
        script.mergeTime = mergeTime
        script.cpusPerTask = cpusPerTask
        script.memory = mem
        script.extraOptions = sbatch
        try script.write(to: scriptFolder)
        if shards > boundaries {
            FileHandle.standardError.write(Data("warning: \(shards) shards for \(boundaries) boundaries: \(shards - boundaries) shard(s) will have no pairs\n".utf8))
        }
        print("wrote \(scriptFolder)/shards.sbatch (\(shards) tasks over \(boundaries) boundaries), merge.sbatch, submit.sh")
        print("submit: bash \(SlurmScript.quoteForDisplay(scriptFolder))/submit.sh")
    }
}
