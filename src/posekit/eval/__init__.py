"""posekit.eval"""
