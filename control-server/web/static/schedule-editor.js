// The schedule editor.
