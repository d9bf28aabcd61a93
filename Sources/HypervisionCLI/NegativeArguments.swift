/// Lets negative numbers through the argument parser: `units near -33.86,151.2` and
/// `--from -30m` would otherwise read as short options (`-3`…).
///
/// An argument that starts with `-` and a digit is never one of our options (no short option is a
/// digit), so it gets a leading space, which the parser treats as a value and our parsers trim.
/// Everything after `--` is left alone.
public func protectingNegativeValues(_ arguments: [String]) -> [String] {
    var out: [String] = []
    var afterTerminator = false
    for argument in arguments {
        if argument == "--" { afterTerminator = true }
        let utf8 = Array(argument.utf8.prefix(2))
        if !afterTerminator, utf8.count == 2, utf8[0] == UInt8(ascii: "-"),
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(utf8[1]) || utf8[1] == UInt8(ascii: ".")
        {
            out.append(" " + argument)
        } else {
            out.append(argument)
        }
    }
    return out
}
