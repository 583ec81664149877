// What a fork-join of two parts costs through Dispatch on this machine: `concurrentPerform` with two
// equal parts of busy work, back to back, against one part alone (the ideal time of the pair). On
// the 2-vCPU VM of docs/benchmarks.md ("round 3") the pair took 1.2–2× the ideal below 1 ms per part,
// which is why ComputePolicy's batch splits run on a spinning pool (CKernels/parallel.c) instead.
//
//   swiftc -O bench/dispatch_wakeup.swift -o /tmp/dispatch_wakeup && /tmp/dispatch_wakeup
import Dispatch
import Foundation

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
var sink = 0.0
for work in [20_000, 100_000, 300_000, 1_000_000, 3_000_000] {
    let reps = max(20, 200_000_000 / (work * 50))
    let t0 = now()
    for _ in 0..<reps {
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            var s = 0.0
            for k in 0..<work { s += Double(k &* i) }
            if s == -1 { print(s) }
        }
    }
    let pair = (now() - t0) / Double(reps) * 1e6
    let t1 = now()
    for _ in 0..<reps {
        var s = 0.0
        for k in 0..<work { s += Double(k) }
        sink += s
    }
    let one = (now() - t1) / Double(reps) * 1e6
    print(String(format: "two parts of %7.1f µs: %7.1f µs per fork-join (ideal %7.1f, %.2f×)", one, pair, one, pair / one))
}
if sink == -1 { print(sink) }
