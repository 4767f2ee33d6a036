// swift-tools-version:6.0
// The package: a small numeric core, a LLaMA model, training pieces, PEFT methods and lessons.
// Dependencies point one way:  TensorKit <- Llama <- (PEFT, Notebook) <- lessons / peft CLI
//                               SafeTensors <- Llama;  TensorKit <- Training
import PackageDescription

/// The numeric targets are compiled optimised even in the debug configuration that plain
/// `swift run` and `swift test` use: a student should never wait for an unoptimised loop.
let optimised: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"])]

let lessonDependencies: [Target.Dependency] = [
    "TensorKit", "Llama", "Training", "Corpus", "Notebook", "PEFT",
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
]

let package = Package(
    name: "PEFTNotebook",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "peft", targets: ["peft"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "TensorKit", swiftSettings: optimised),
        .target(name: "SafeTensors", swiftSettings: optimised),
        .target(name: "Llama", dependencies: ["TensorKit", "SafeTensors"], swiftSettings: optimised),
        .target(name: "Training", dependencies: ["TensorKit"], swiftSettings: optimised),
        .target(name: "Corpus", dependencies: ["TensorKit", "SafeTensors"], swiftSettings: optimised),
        .target(name: "PEFT", dependencies: ["TensorKit", "SafeTensors", "Llama", "Training"], swiftSettings: optimised),
        .target(
            name: "Notebook",
            dependencies: ["TensorKit", "SafeTensors", "Llama", "Training", "Corpus", "PEFT",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: optimised),
        .executableTarget(
            name: "peft",
            dependencies: [
                "TensorKit", "SafeTensors", "Llama", "Training", "PEFT", "Corpus", "Notebook",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimised),
        .executableTarget(
            name: "lesson-full-finetune", dependencies: lessonDependencies, path: "Lessons/lesson-full-finetune", swiftSettings: optimised),
        .executableTarget(name: "lesson-lora", dependencies: lessonDependencies, path: "Lessons/lesson-lora", swiftSettings: optimised),
        .executableTarget(name: "lesson-rank", dependencies: lessonDependencies, path: "Lessons/lesson-rank", swiftSettings: optimised),
        .executableTarget(name: "lesson-targets", dependencies: lessonDependencies, path: "Lessons/lesson-targets", swiftSettings: optimised),
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
        .testTarget(name: "LessonTests", dependencies: ["lesson-full-finetune", "lesson-lora", "lesson-rank", "lesson-targets", "peft", "SafeTensors", "TestSupport"]),
        .testTarget(name: "CorpusTests", dependencies: ["Corpus", "TensorKit", "SafeTensors", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "TensorKitTests", dependencies: ["TensorKit", "Training", "TestSupport"]),
        .testTarget(name: "LlamaTests", dependencies: ["TensorKit", "SafeTensors", "Llama", "Training", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "PEFTTests", dependencies: ["TensorKit", "SafeTensors", "Llama", "Training", "PEFT", "TestSupport"]),
        .testTarget(name: "NotebookTests", dependencies: ["Notebook", "Corpus", "TensorKit"]),
        .testTarget(name: "ExerciseTests", dependencies: ["ExerciseBook", "ExerciseAnswers", "exercises"]),
    ]
)
