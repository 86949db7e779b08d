"""The embedded corpus: English speech synthesised with eSpeak NG, turned into the course's
39-dim features and frame labels, and written in the exact LibriPhone layout."""
