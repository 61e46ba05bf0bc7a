namespace InferServer.Demo.Import;

/// <summary>An ONNX graph the importer does not understand; the message names the node or initializer.</summary>
public sealed class OnnxImportException(string message) : Exception(message);
