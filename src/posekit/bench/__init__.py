"""posekit.bench"""
