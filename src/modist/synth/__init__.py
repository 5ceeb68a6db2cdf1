"""Synthetic motion benchmark: classes defined by the actor's motion."""
