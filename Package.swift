// swift-tools-version:6.0
// The package: a small numeric core, a LLaMA model, training pieces, PEFT methods and lessons.
// Dependencies point one way:  FastMath <- TensorKit <- Llama <- PEFT <- Notebook <- lessons, peft CLI, figures
//                               PEFT <- Export <- peft CLI;  SafeTensors <- Llama;  TensorKit <- Training, Corpus
import Foundation
import PackageDescription

/// On an x86-64 Linux machine whose processor has AVX2 and FMA (most x86 processors since 2013–15;
/// some later Pentium, Celeron and Atom chips lack them), the numeric targets are built for that
/// level of the instruction set (x86-64-v3): loops over floats run eight at a time instead of
/// four. The numbers stay the same bit for bit: each element gets the same operations (Swift never
/// fuses a·b + c into one FMA, so none appears), and every sum still runs in order. The manifest
/// reads the flags of the machine that builds, so the build runs where it was made. To build for
/// another machine or cross-compile, `PEFT_PORTABLE=1 swift build` makes one for any x86-64.
let vectorFlags: [String] = {
    #if os(Linux) && arch(x86_64)
    if ProcessInfo.processInfo.environment["PEFT_PORTABLE"] == "1" { return [] }
    guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
    let flags = Set(line.split(separator: " ").map(String.init))
    // x86-64-v3: AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT (listed as abm), MOVBE, XSAVE
    let needed = ["avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"]
    return needed.allSatisfy(flags.contains) ? ["-Xcc", "-march=x86-64-v3"] : []
    #else
    return []
    #endif
}()

/// The numeric targets are compiled optimised even in the debug configuration that plain
/// `swift run` and `swift test` use: a student should never wait for an unoptimised loop.
let optimisedFlags = ["-Ounchecked"] + vectorFlags
let optimised: [SwiftSetting] = [.unsafeFlags(optimisedFlags)]

let lessonDependencies: [Target.Dependency] = [
    "TensorKit", "Llama", "Training", "Corpus", "Notebook", "PEFT",
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
]

/// Every lesson, in the order of the course.
let lessons = ["lesson-lora", "lesson-full-finetune", "lesson-rank", "lesson-targets", "lesson-soft-prompts",
               "lesson-prompt-tuning", "lesson-qlora", "lesson-adalora", "lesson-mpt", "lesson-overview"]

let package = Package(
    name: "PEFTNotebook",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "peft", targets: ["peft"]),
        .executable(name: "figures", targets: ["figures"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "FastMath", swiftSettings: optimised),
        .target(name: "TensorKit", dependencies: ["FastMath"], swiftSettings: optimised),
        .target(name: "SafeTensors", swiftSettings: optimised),
        .target(name: "Llama", dependencies: ["TensorKit", "SafeTensors"], swiftSettings: optimised),
        // Without errno, `squareRoot()` is the sqrt instruction (its bits are IEEE's either way) and AdamW's
        // update vectorises; with errno every element went through a check and a possible libm call.
        .target(name: "Training", dependencies: ["TensorKit"],
                swiftSettings: [.unsafeFlags(optimisedFlags + ["-Xcc", "-fno-math-errno"])]),
        .target(name: "Corpus", dependencies: ["TensorKit", "SafeTensors"], swiftSettings: optimised),
        .target(name: "PEFT", dependencies: ["FastMath", "TensorKit", "SafeTensors", "Llama", "Training"],
                swiftSettings: optimised),
        // `peft export`: an adapter's run for Hugging Face PEFT, LLaMA-Factory, ms-swift (text only: not optimised).
        .target(name: "Export", dependencies: ["PEFT", "SafeTensors"]),
        .target(
            name: "Notebook",
            dependencies: ["TensorKit", "SafeTensors", "Llama", "Training", "Corpus", "PEFT",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: optimised),
        .executableTarget(
            name: "peft",
            dependencies: [
                "TensorKit", "SafeTensors", "Llama", "Training", "PEFT", "Corpus", "Notebook", "Export",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimised),
        // `swift run figures`: every lesson in the course's order, with each one's time.
        .executableTarget(name: "figures", dependencies: [
            "Notebook", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // The lessons: one executable each, `swift run <name>`; a lesson's tuning.json holds the learning rates
        // chosen on the validation split (`--tune`), read at run time, not compiled.
    ] + lessons.map { name in
        .executableTarget(name: name, dependencies: lessonDependencies, path: "Lessons/\(name)",
                          exclude: ["tuning.json"], swiftSettings: optimised)
    } + [
        // Classroom exercises: the book (the functions to write, the reference solutions on the project's own
        // code, the checks), the student's one file of answers, and the checker. Notebook, PEFT <- ExerciseBook
        // <- ExerciseAnswers <- exercises.
        .target(name: "ExerciseBook", dependencies: ["TensorKit", "Llama", "PEFT", "Notebook"], path: "Exercises/Book"),
        .target(name: "ExerciseAnswers", dependencies: ["ExerciseBook"], path: "Exercises/Student"),
        .executableTarget(
            name: "exercises",
            dependencies: ["ExerciseBook", "ExerciseAnswers",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Exercises/Checker"),
        // What the test targets share: where the golden files are, and how to compare with them.
        .target(name: "TestSupport", dependencies: ["TensorKit", "Llama", "SafeTensors"], path: "Tests/TestSupport"),
        .testTarget(name: "LessonTests",
                    dependencies: lessons.map { Target.Dependency(stringLiteral: $0) }
                        + ["peft", "figures", "SafeTensors", "TestSupport"]),
        .testTarget(name: "CorpusTests", dependencies: ["Corpus", "TensorKit", "SafeTensors", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "TensorKitTests", dependencies: ["FastMath", "TensorKit", "Training", "TestSupport"]),
        .testTarget(name: "LlamaTests", dependencies: ["TensorKit", "SafeTensors", "Llama", "Training", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "PEFTTests",
                    dependencies: ["TensorKit", "SafeTensors", "Llama", "Training", "PEFT", "TestSupport"]),
        .testTarget(name: "NotebookTests",
                    dependencies: ["Notebook", "Corpus", "TensorKit", "Llama", "PEFT", "Training", "TestSupport"]),
        .testTarget(name: "ExportTests", dependencies: ["Export", "PEFT"], exclude: ["Expected"]),
        .testTarget(name: "ExerciseTests", dependencies: ["ExerciseBook", "ExerciseAnswers", "exercises"]),
    ]
)
