namespace InferServer.AdapterStore.Configuration;

/// <summary>
/// What to do when an adapter's <c>base_model_name_or_path</c> names another base than the served one
/// (<c>Adapters:BaseModelCheck</c>). Either way the shape and module checks still refuse anything that cannot apply; a
/// same-shaped adapter trained on another base would run, with different outputs than its author measured.
/// </summary>
public enum BaseModelCheck
{
    /// <summary>Serve it and log a warning naming both bases.</summary>
    Warn,

    /// <summary>Refuse it, naming both bases.</summary>
    Refuse,
}
