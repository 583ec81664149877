/// Fixed colours shared by every picture, so a class has the same colour in every plot and slice.
public enum Palette {
    /// Matplotlib's "tab10" (colour-blind-aware categorical colours), then "tab20"'s light tones.
    public static let categorical: [[UInt8]] = [
        [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
        [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
        [174, 199, 232], [255, 187, 120], [152, 223, 138], [255, 152, 150], [197, 176, 213],
        [196, 156, 148], [247, 182, 210], [199, 199, 199], [219, 219, 141], [158, 218, 229],
    ]

    /// The colour of class (or series) `index`; cycles after 20.
    public static func colour(_ index: Int) -> [UInt8] { categorical[((index % categorical.count) + categorical.count) % categorical.count] }

    /// Grey for "outside the domain" / "no value".
    public static let missing: [UInt8] = [200, 200, 200]
}
