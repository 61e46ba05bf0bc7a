namespace InferServer.Engine.Tokenization;

/// <summary>A token added on top of the model's vocabulary (tokenizer.json <c>added_tokens</c>,
/// tokenizer_config.json <c>added_tokens_decoder</c>). Added tokens are matched whole in input text.</summary>
internal sealed record AddedToken(int Id, string Content, bool Special);
